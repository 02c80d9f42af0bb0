//! The chain edge: the RevShare contract's bindings, the relayer that submits signed reports, and
//! the indexer that follows what the contract emitted. Everything here talks to a node; what a
//! report means and how it is verified stays in `report`.

pub mod contract;
pub mod convert;
pub mod deploy;
pub mod events;
pub mod logs;
pub mod range;
pub mod rpc;
