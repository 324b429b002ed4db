//! Replays of clients that cannot be installed here (docs/clients/README.md#php-library official
//! PHP library, docs/clients/README.md#prestasharp PrestaSharp, docs/clients/README.md#airbyte
//! Airbyte): their exact requests, kept as files in `tests/fixtures/replay/<client>/*.http` (format
//! in that folder's README.md), sent to a real server, and each answer judged by the client's own
//! acceptance rules.

mod airbyte;
mod php_library;
mod prestasharp;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use base64::Engine;
use quick_xml::events::Event;

use crate::support::{Response, TestApp};

/// A fixture with its placeholders filled: `head` for `TestApp::raw`, and the body.
pub struct Request {
    pub head: String,
    pub body: Vec<u8>,
}

/// Loads `tests/fixtures/replay/<name>.http` and fills `{host}`, `{key}`, `{basic}`, the
/// given `vars`, then `{length}`.
pub fn fixture(app: &TestApp, key: &str, name: &str, vars: &[(&str, &str)]) -> Request {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/replay")
        .join(format!("{name}.http"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()));
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{key}:"));
    let host = format!("127.0.0.1:{}", app.port);
    let fill = |s: &str| {
        let mut s = s
            .replace("{host}", &host)
            .replace("{key}", key)
            .replace("{basic}", &basic);
        for (k, v) in vars {
            s = s.replace(&format!("{{{k}}}"), v);
        }
        s
    };
    let text: String = text
        .lines()
        .skip_while(|l| l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    let (head, body) = match text.split_once("\n\n") {
        Some((h, b)) => (h.to_owned(), b.to_owned()),
        None => (text.clone(), String::new()),
    };
    let body = fill(&body).into_bytes();
    let head = fill(&head)
        .replace("{length}", &body.len().to_string())
        .replace('\n', "\r\n");
    assert!(
        !head.contains('{') || head.contains("?id=["),
        "unfilled placeholder in {name}: {head}"
    );
    Request { head, body }
}

/// Sends a fixture.
pub fn replay(app: &TestApp, key: &str, name: &str, vars: &[(&str, &str)]) -> Response {
    let req = fixture(app, key, name, vars);
    app.raw(&req.head, &req.body)
}

/// Whether libxml2 (what PHP's SimpleXML and most XML clients use) parses the body.
pub fn libxml_parses(body: &[u8]) -> Result<(), String> {
    let mut child = Command::new("xmllint")
        .args(["--noout", "--nonet", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run xmllint ({e}): run scripts/test"));
    let mut stdin = child.stdin.take().unwrap();
    let body = body.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&body));
    let out = child.wait_with_output().unwrap();
    let _ = writer.join().unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// One element of an XML document: its path from the root (`prestashop/customer_thread/id`),
/// attributes and text (CDATA and entities resolved).
#[derive(Debug, Clone)]
pub struct Element {
    pub path: String,
    pub attrs: Vec<(String, String)>,
    pub text: String,
}

impl Element {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Every element of a well-formed document, in document order.
pub fn elements(body: &[u8]) -> Vec<Element> {
    let text = std::str::from_utf8(body).expect("UTF-8 XML");
    let mut reader = quick_xml::Reader::from_str(text);
    let mut stack: Vec<String> = Vec::new();
    let mut open: Vec<usize> = Vec::new();
    let mut out: Vec<Element> = Vec::new();
    loop {
        match reader.read_event().expect("well-formed XML") {
            ev @ (Event::Start(_) | Event::Empty(_)) => {
                let (e, empty) = match ev {
                    Event::Start(e) => (e, false),
                    Event::Empty(e) => (e, true),
                    _ => unreachable!(),
                };
                let name = String::from_utf8(e.name().as_ref().to_vec()).unwrap();
                stack.push(name);
                let attrs = e
                    .attributes()
                    .map(|a| {
                        let a = a.unwrap();
                        (
                            String::from_utf8(a.key.as_ref().to_vec()).unwrap(),
                            a.unescape_value().unwrap().into_owned(),
                        )
                    })
                    .collect();
                out.push(Element {
                    path: stack.join("/"),
                    attrs,
                    text: String::new(),
                });
                open.push(out.len() - 1);
                if empty {
                    stack.pop();
                    open.pop();
                }
            }
            Event::End(_) => {
                stack.pop();
                open.pop();
            }
            Event::Text(t) => {
                if let Some(&i) = open.last() {
                    out[i].text.push_str(&t.xml10_content().unwrap());
                }
            }
            Event::CData(c) => {
                if let Some(&i) = open.last() {
                    out[i].text.push_str(&c.xml10_content().unwrap());
                }
            }
            Event::GeneralRef(r) => {
                if let Some(&i) = open.last() {
                    let name = std::str::from_utf8(&r).unwrap();
                    let c = match name {
                        "amp" => '&',
                        "lt" => '<',
                        "gt" => '>',
                        "quot" => '"',
                        "apos" => '\'',
                        n => {
                            let n = n.trim_start_matches('#');
                            let v = match n.strip_prefix('x') {
                                Some(h) => u32::from_str_radix(h, 16).unwrap(),
                                None => n.parse().unwrap(),
                            };
                            char::from_u32(v).unwrap()
                        }
                    };
                    out[i].text.push(c);
                }
            }
            Event::Eof => return out,
            _ => {}
        }
    }
}
