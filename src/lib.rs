//! revshare-oracle: watches a community's revenue-share decisions on Discourse or Loomio, runs its
//! policy on them, turns every configuration change into a signed, hash-chained oracle report that
//! the RevShare contract verifies, relays the reports, answers web pages with a payment pointer
//! picked by weight, and audits the signed history from the chain.
//!
//! Layers, lowest first (imports point down only; `tests/it/layering.rs` checks it): the pure core
//! (`domain`; `select`, `report`, `voting`; `policy`), then `config` and `clock`, `keys` and
//! `telemetry`, the edges (`oracle`, `openpayments`, `chain`; `sources`; `store`, `audit`), the use
//! cases (`app`), the `workers` and `http` that drive them, and the composition root (`server`).
//! ARCHITECTURE.md maps them.

pub mod app;
pub mod audit;
pub mod chain;
pub mod clock;
pub mod config;
pub mod domain;
pub mod http;
pub mod keys;
pub mod openpayments;
pub mod oracle;
pub mod policy;
pub mod report;
pub mod select;
pub mod server;
pub mod sources;
pub mod store;
pub mod telemetry;
pub mod voting;
pub mod workers;
