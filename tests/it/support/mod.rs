//! Test doubles of the platforms the service talks to, faithful to their documented formats.
//! Integration tests include them with `mod support;`.

pub mod anvil;
pub mod discourse;
pub mod discourse_api;
pub mod discourse_routes;
pub mod discourse_site;
pub mod evidence;
pub mod loomio;
pub mod oracle;
pub mod replica_process;
pub mod rpc_proxy;
