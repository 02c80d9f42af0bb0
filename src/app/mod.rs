//! The use cases: what the service does, whoever asks for it (an admin route, a webhook handler,
//! a worker's pass). Each is a small struct of exactly what it reads, calls and wakes, built once
//! by the composition root (`crate::server`) and shared by clone:
//!
//! - [`Changes`]: create a community, change a pool (signed when the oracle is on), a split, a
//!   member's wallet or a topic, and swap the snapshot in;
//! - [`Ingest`]: apply stored webhook deliveries, each exactly once, in arrival order;
//! - [`Actions`]: store intended platform actions (messages, poll closes) and attempt them;
//! - [`Backends`] and [`Votes`]: the standard voting API over every platform, and the re-reads;
//! - [`LoomioHints`]: take Loomio's unsigned webhooks as rate-limited hints to re-read;
//! - [`Scheduler`]: the policy's passes, which open, decide and carry out proposals;
//! - [`Reconciler`]: compare what this oracle signed with what the chain holds;
//! - [`Freshness`]: keep the snapshots up with changes other replicas commit.
//!
//! Nothing here imports `http`, `workers` or `server`: callers above ring a use case's
//! [`Doorbell`] or call it; time comes from one [`crate::clock::Clock`]; every failure is an [`AppError`].

pub mod actions;
pub mod backends;
mod changes;
mod doorbell;
mod error;
pub mod hints;
pub mod ingest;
pub mod reconcile;
pub mod replicas;
pub mod scheduler;
mod snapshots;
pub mod votes;

pub use actions::Actions;
pub use backends::Backends;
pub use changes::{Changes, DecisionRef};
pub use doorbell::Doorbell;
pub use error::{AppError, PlatformSetup};
pub use hints::{HintOutcome, LoomioHints};
pub use ingest::Ingest;
pub use reconcile::Reconciler;
pub use replicas::{Freshness, Job, ReplicaStatus};
pub use scheduler::Scheduler;
pub use snapshots::{LiveCommunity, Snapshots};
pub use votes::Votes;
