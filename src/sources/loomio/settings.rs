//! A community's Loomio settings: the site, the API key of the user the service acts as, and the
//! group whose members vote. The key is a `SecretString`: the store keeps it, and it never reaches
//! a log line, an error or a response.

use secrecy::SecretString;

use crate::domain::Timestamp;

/// A community's Loomio settings.
#[derive(Clone, Debug)]
pub struct LoomioSource {
    /// The site's base URL, such as `https://www.loomio.com`; the API is at `{base_url}/api/b2`.
    pub base_url: String,
    /// The API key of the Loomio user the service acts as (a bot account, ideally).
    pub api_key: SecretString,
    /// The group whose polls the service starts and whose members vote.
    pub group_id: u64,
    /// When the settings were last set.
    pub updated_at: Timestamp,
}
