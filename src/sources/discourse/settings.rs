//! A community's Discourse settings: where its site is, how its webhooks are signed, which custom
//! user field holds a wallet, and how the service acts on the site. Secrets are `SecretString`s,
//! so they never reach a log line, an error or a response; the store keeps them.

use secrecy::SecretString;

use crate::domain::Timestamp;

/// A community's Discourse settings.
#[derive(Clone, Debug)]
pub struct DiscourseSource {
    /// The site's base URL, as Discourse sends it in `X-Discourse-Instance`.
    pub base_url: String,
    /// The webhook secret (at least 12 characters).
    pub webhook_secret: SecretString,
    /// The name of the custom user field that holds a member's wallet.
    pub wallet_field: String,
    /// That field's id, as Discourse keys `user_fields` (a number, as a string).
    pub wallet_field_id: String,
    /// When the id was resolved from the name through Discourse's API; `None` when the admin
    /// gave it.
    pub wallet_field_resolved_at: Option<Timestamp>,
    /// The API key the service acts with, when it acts on the site.
    pub api_key: Option<SecretString>,
    /// The user the API key acts as.
    pub api_username: Option<String>,
    /// The topic polls are posted in as replies.
    pub poll_topic_id: Option<i64>,
    /// The category polls are posted in as new topics (when no topic is set).
    pub poll_category_id: Option<i64>,
    /// When the settings were last set.
    pub updated_at: Timestamp,
}

impl DiscourseSource {
    /// Settings for receiving webhooks only: no API access, no poll destination.
    pub fn webhooks_only(
        base_url: &str,
        webhook_secret: SecretString,
        wallet_field: &str,
        wallet_field_id: &str,
        updated_at: Timestamp,
    ) -> DiscourseSource {
        DiscourseSource {
            base_url: base_url.to_string(),
            webhook_secret,
            wallet_field: wallet_field.to_string(),
            wallet_field_id: wallet_field_id.to_string(),
            wallet_field_resolved_at: None,
            api_key: None,
            api_username: None,
            poll_topic_id: None,
            poll_category_id: None,
            updated_at,
        }
    }
}
