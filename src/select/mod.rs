//! Weighted pointer selection: pure code that takes prepared tables and a random source and
//! returns a wallet. No I/O, no clock, no randomness it was not handed.

mod alias;
mod distribution;
mod plan;
mod snapshot;

pub use alias::AliasTable;
pub use distribution::{Share, pool_distribution, topic_distribution};
pub use plan::{Component, Recipient, TopicPlan};
pub use snapshot::{CommunitySnapshot, Pick, PickContext, PickError, PoolTable};
