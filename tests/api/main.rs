//! Integration tests: every test gets its own database on the throwaway MariaDB started by
//! `scripts/test`, and a real server on a random port.

mod support;

mod auth;
mod bridges;
mod keys;
mod lists;
mod live_shop;
mod prefix;
mod replay;
mod request_target;
mod root;
mod seed;
mod single;
mod writes;
mod xsd_fixtures;
