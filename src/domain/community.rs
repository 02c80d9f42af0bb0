//! A community and the whole of its current configuration, as one value the selection snapshot is
//! built from.

use serde::Serialize;

use super::Timestamp;
use super::name::{CommunitySlug, MemberId, PoolName, TopicId};
use super::pool::PoolVersion;
use super::split::SplitVersion;
use super::topic::TopicFacts;
use super::wallet::WalletAddress;

/// A community that runs the service beside its Discourse or Loomio.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Community {
    /// Its id in URLs.
    pub slug: CommunitySlug,
    /// Its display name.
    pub name: String,
    /// When it was created here.
    pub created_at: Timestamp,
}

/// Everything selection needs to know about one community, read in one go.
#[derive(Clone, Debug, Default)]
pub struct CommunityConfig {
    /// The current version of each pool.
    pub pools: Vec<(PoolName, PoolVersion)>,
    /// The current split rules, if any were set.
    pub splits: Option<SplitVersion>,
    /// Members that have a wallet.
    pub member_wallets: Vec<(MemberId, WalletAddress)>,
    /// Known topics.
    pub topics: Vec<(TopicId, TopicFacts)>,
}
