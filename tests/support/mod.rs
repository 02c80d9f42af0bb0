//! Test doubles of the platforms the service talks to, faithful to their documented formats.
//! Integration tests include them with `mod support;`.
#![allow(dead_code)]

pub mod anvil;
pub mod discourse;
pub mod evidence;
pub mod oracle;
pub mod rpc_proxy;
