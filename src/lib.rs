//! revshare-oracle: turns a community's revenue-share votes into configuration versions, answers
//! web pages with a payment pointer picked by weight, and (in later parts) signs oracle reports.
//!
//! The pure core (`domain`, `select`, `policy`, `report`) takes values and returns values; the edges (`store`, `http`,
//! `openpayments`, `app`) do the I/O. See ARCHITECTURE.md for the map.

pub mod app;
pub mod audit;
pub mod chain;
pub mod config;
pub mod domain;
pub mod http;
pub mod keys;
pub mod openpayments;
pub mod oracle;
pub mod policy;
pub mod report;
pub mod select;
pub mod sources;
pub mod store;
pub mod telemetry;
pub mod voting;
