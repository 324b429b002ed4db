//! Validates response bodies against the schemas in `xsd/` with `xmllint` (libxml2-utils, which
//! `scripts/test` installs). It is a module of the `tests/api` binary (`support::xsd`).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// `xsd/<name>`, e.g. `schema_path("customer_thread.xsd")`.
pub fn schema_path(xsd: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("xsd")
        .join(xsd)
}

/// Runs `xmllint --noout --schema xsd/<xsd> -` on `body`; `Err` holds xmllint's report.
pub fn validate(xsd: &str, body: &[u8]) -> Result<(), String> {
    let schema = schema_path(xsd);
    assert!(schema.is_file(), "no schema {}", schema.display());
    let mut child = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&schema)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run xmllint ({e}): install libxml2-utils, or run scripts/test")
        });
    // Written from a thread: xmllint may report before it has read everything, and a full
    // stderr pipe must not block us while we still write.
    let mut stdin = child.stdin.take().expect("piped stdin");
    let body = body.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&body));
    let output = child.wait_with_output().expect("xmllint runs");
    // A write error only means xmllint stopped reading early; its status says why.
    let _ = writer.join().expect("stdin writer thread");
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// Panics with xmllint's report (and the body) unless `body` is valid against `xsd/<xsd>`.
pub fn assert_valid(xsd: &str, body: &[u8]) {
    if let Err(report) = validate(xsd, body) {
        panic!(
            "body is not valid against xsd/{xsd}:\n{report}\n--- body ---\n{}",
            String::from_utf8_lossy(body)
        );
    }
}
