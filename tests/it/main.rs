//! The integration suites, as one test binary so the crate is linked once: each suite is a module,
//! the fakes and helpers they share sit beside them.

#[macro_use]
mod common;
mod ballot_fixtures;
mod policy;
mod policy_fixtures;
mod support;
mod voting;

mod audit;
mod audit_ballots;
mod cast_typed_data;
mod chain_deploy;
mod chain_indexer;
mod chain_indexer_process;
mod chain_store;
mod cli;
mod cli_oracle;
mod discourse_actions;
mod discourse_api;
mod discourse_crash;
mod discourse_voting;
mod discourse_webhooks;
mod http_api;
mod layering;
mod loomio_ballots;
mod loomio_client;
mod loomio_hooks;
mod loomio_restart;
mod loomio_voting;
mod oracle_expiry;
mod oracle_relay;
mod page;
mod policy_cli;
mod policy_ending;
mod policy_endings_flow;
mod policy_engine;
mod policy_evidence;
mod policy_flow;
mod policy_format;
mod policy_loomio;
mod policy_metrics;
mod policy_replay;
mod policy_requests;
mod policy_service;
mod policy_store;
mod replicas;
mod report_reissue;
mod selection_distribution;
mod store;
mod vote_store;
mod web_monetization;
