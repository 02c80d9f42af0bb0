//! Where community decisions and facts come from: one folder per platform.
//!
//! Each platform's folder holds the pure part (payload types, webhook checks, and the function
//! from an event and the registry's current record to the changes to make) apart from any I/O;
//! storing deliveries and applying changes is done by `store` and `app::ingest`. A platform's
//! API client and its voting backend (`loomio::LoomioClient`, `loomio::LoomioBackend`) are the
//! folder's I/O edge, kept in their own files.

pub mod discourse;
pub mod loomio;
