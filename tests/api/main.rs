//! Integration tests: every test gets its own database on the throwaway MariaDB started by
//! `scripts/test`, and a real server on a random port.

/// A golden document of `tests/fixtures/golden/`: the exact bytes a client receives, shared with
/// the unit tests of `src/render`.
macro_rules! golden {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/golden/",
            $name
        ))
    };
}

mod support;

mod auth;
mod bridges;
mod deploy;
mod events;
mod events_gaps;
mod faults;
mod keys;
mod lists;
mod live_shop;
mod multistore;
mod nodes;
mod observe;
mod prefix;
mod replay;
mod request_target;
mod root;
mod safety;
mod seed;
mod single;
mod tune;
mod webhooks;
mod write_statements;
mod writes;
mod writes_json;
mod xsd_fixtures;
