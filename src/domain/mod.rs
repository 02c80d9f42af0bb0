//! The project's vocabulary as values: wallets, pools, splits, topics, causes and times.
//!
//! Nothing here does I/O or reads a clock; every value is validated when it is built, so the rest of
//! the service can take it as given.

mod cause;
mod community;
mod member;
mod name;
mod pool;
mod split;
mod topic;
mod wallet;

pub use cause::{Cause, Timestamp};
pub use community::{Community, CommunityConfig};
pub use member::{MemberRecord, PlatformUser};
pub use name::{
    CommunitySlug, Label, MemberId, NameError, PolicyName, PoolName, RuleName, Tag, TopicId,
};
pub use pool::{Entry, MAX_POOL_ENTRIES, Pool, PoolError, PoolVersion, Weight, WeightError};
pub use split::{BASIS_POINTS, SplitError, SplitRules, SplitVersion, TagRoute};
pub use topic::TopicFacts;
pub use wallet::{PointerError, WalletAddress};
