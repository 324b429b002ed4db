//! Integration tests: every test gets its own database on the throwaway MariaDB started by
//! `scripts/test`, and a real server on a random port.

mod support;

mod auth;
mod bridges;
mod deploy;
mod faults;
mod keys;
mod lists;
mod live_shop;
mod multistore;
mod observe;
mod prefix;
mod replay;
mod request_target;
mod root;
mod safety;
mod seed;
mod single;
mod write_statements;
mod writes;
mod writes_json;
mod xsd_fixtures;
