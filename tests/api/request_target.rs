//! Request targets as Apache passes them to PHP, and the HTTP layer's own answers
//! (`http::conn`, docs/compatibility.md "Request targets"). Every request here is written to a
//! raw socket byte for byte: no client encodes anything.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::support::http::basic;
use crate::support::{serve_settings, xml_error, TestApp, TestDb, XML_HEAD};

/// A response read off a kept-alive connection.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Res {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Res {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("UTF-8 body")
    }

    /// What must be equal between a raw request and its encoded form: status, content type
    /// and the exact body (`Access-Time` and `Execution-Time` vary).
    fn essence(&self) -> (u16, Option<String>, String) {
        (
            self.status,
            self.header("Content-Type").map(str::to_owned),
            String::from_utf8_lossy(&self.body).into_owned(),
        )
    }
}

struct Conn {
    reader: BufReader<TcpStream>,
}

impl Conn {
    fn open(app: &TestApp) -> Conn {
        let stream = TcpStream::connect(("127.0.0.1", app.port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        Conn {
            reader: BufReader::new(stream),
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.reader.get_mut().write_all(bytes).expect("write");
    }

    /// One response: head, then a `Content-Length` or chunked body.
    fn read(&mut self) -> Res {
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("status line");
        let status = line
            .split(' ')
            .nth(1)
            .unwrap_or_else(|| panic!("status line {line:?}"))
            .parse()
            .unwrap();
        let mut headers = Vec::new();
        loop {
            let mut l = String::new();
            self.reader.read_line(&mut l).expect("header line");
            let l = l.trim_end();
            if l.is_empty() {
                break;
            }
            let (n, v) = l.split_once(':').expect("header");
            headers.push((n.to_owned(), v.trim().to_owned()));
        }
        let mut res = Res {
            status,
            headers,
            body: Vec::new(),
        };
        if let Some(len) = res.header("Content-Length") {
            let mut body = vec![0; len.parse().unwrap()];
            self.reader.read_exact(&mut body).expect("body");
            res.body = body;
        } else if res.header("Transfer-Encoding") == Some("chunked") {
            loop {
                let mut size = String::new();
                self.reader.read_line(&mut size).unwrap();
                let size = usize::from_str_radix(size.trim(), 16).unwrap();
                let mut chunk = vec![0; size + 2];
                self.reader.read_exact(&mut chunk).unwrap();
                if size == 0 {
                    break;
                }
                res.body.extend_from_slice(&chunk[..size]);
            }
        }
        res
    }

    /// Everything until the server closes the connection.
    fn rest(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        self.reader.read_to_end(&mut out).expect("read to the end");
        out
    }
}

fn get(target: &[u8], key: &str) -> Vec<u8> {
    [
        b"GET ",
        target,
        format!(
            " HTTP/1.1\r\nHost: example.com\r\nAuthorization: {}\r\n\r\n",
            basic(key)
        )
        .as_bytes(),
    ]
    .concat()
}

/// `%XX` for every byte of `s` that is not plain ASCII text.
fn encoded(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for &b in raw {
        if b.is_ascii_alphanumeric() || b"/?=&[]_.@-".contains(&b) {
            out.push(b);
        } else {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
        }
    }
    out
}

/// The characters Apache passes to PHP raw and that a strict HTTP parser refuses, and raw
/// bytes ≥ 0x80 (UTF-8 `é`, and a lone Latin-1 `é`).
const ODD: [&[u8]; 11] = [
    b"\"",
    b"<",
    b">",
    b"`",
    b"{",
    b"}",
    b"|",
    b"\\",
    b"^",
    "é".as_bytes(),
    b"\xe9",
];

fn app_with_key() -> (TestApp, String) {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    (app, key)
}

/// The connection layer's whole answer, byte for byte.
fn layer_answer(status: u16, reason: &str) -> String {
    let body = xml_error(0, reason);
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/xml;charset=UTF-8\r\nContent-Length: {}\r\nConnection: close\r\nX-Powered-By: PrestaShop Webservice\r\n\r\n{body}",
        body.len()
    )
}

fn list(ids: &[u32]) -> String {
    let mut s = format!("{XML_HEAD}<customer_threads>\n");
    for id in ids {
        s.push_str(&format!("<customer_thread id=\"{id}\" xlink:href=\"http://example.com/api/customer_threads/{id}\"/>\n"));
    }
    s.push_str("</customer_threads>\n</prestashop>\n");
    s
}

/// `raw_target` answers `expected` and the same as its encoded form, and a normal request
/// after it on the same connection is answered `normal_body`: once kept alive (the second
/// request sent after the first answer), once pipelined (both in one write).
fn odd_request_is_served(
    app: &TestApp,
    key: &str,
    raw_target: &[u8],
    expected: &str,
    normal: (&[u8], &str),
) {
    let what = String::from_utf8_lossy(raw_target).into_owned();
    let mut c = Conn::open(app);
    c.send(&get(raw_target, key));
    let raw = c.read();
    assert_eq!(raw.status, 200, "{what}: {}", raw.text());
    assert_eq!(raw.text(), expected, "{what}");
    c.send(&get(normal.0, key));
    let second = c.read();
    assert_eq!((second.status, second.text()), (200, normal.1), "{what}");
    c.send(&get(&encoded(raw_target), key));
    assert_eq!(c.read().essence(), raw.essence(), "{what}");

    let mut c = Conn::open(app);
    c.send(&[get(raw_target, key), get(normal.0, key)].concat());
    assert_eq!(c.read().essence(), raw.essence(), "{what}");
    let second = c.read();
    assert_eq!((second.status, second.text()), (200, normal.1), "{what}");
}

#[test]
fn each_odd_character_in_the_query_is_served_like_its_encoded_form() {
    let (app, key) = app_with_key();
    for odd in ODD {
        let raw_target = [b"/api/customer_threads?filter[email]=[a", odd, b"b]"].concat();
        let normal = (&b"/api/customer_threads?limit=1"[..], &*list(&[1]));
        odd_request_is_served(&app, &key, &raw_target, &list(&[]), normal);
    }
}

#[test]
fn each_odd_character_in_the_path_is_served_like_its_encoded_form() {
    let (app, key) = app_with_key();
    let single = |id: u32| {
        format!("{XML_HEAD}<customer_thread>\n\t<id><![CDATA[{id}]]></id>\n</customer_thread>\n</prestashop>\n")
    };
    for odd in ODD {
        // `(int)` of the id segment `1<...` is 1, as PrestaShop reads it.
        let raw_target = [b"/api/customer_threads/1", odd, b"?display=[id]"].concat();
        let normal = (&b"/api/customer_threads/2?display=[id]"[..], &*single(2));
        odd_request_is_served(&app, &key, &raw_target, &single(1), normal);
    }
    // `/api/customer_threads/<1`: the id is `(int) "<1"`, 0, which no thread has (404, empty
    // body), raw as encoded.
    let mut c = Conn::open(&app);
    c.send(&get(b"/api/customer_threads/<1", &key));
    let raw = c.read();
    assert_eq!((raw.status, raw.body.len()), (404, 0));
    c.send(&get(b"/api/customer_threads/%3C1", &key));
    assert_eq!(c.read().essence(), raw.essence());
}

#[test]
fn filter_operators_raw_and_encoded_give_identical_bodies() {
    let (app, key) = app_with_key();
    let cases: [(&str, &[u32]); 6] = [
        ("filter[id]=>[0]", &[1, 2, 3]),
        ("filter[date_upd]=>[2024-01-31]&date=1", &[2, 3]),
        ("filter[id]=>[1]", &[2, 3]),
        ("filter[id]=<[3]", &[1, 2]),
        ("filter[id]=>=[2]", &[2, 3]),
        ("filter[id]=<=[2]", &[1, 2]),
    ];
    let mut c = Conn::open(&app);
    for (query, ids) in cases {
        let raw_target = format!("/api/customer_threads?{query}");
        c.send(&get(raw_target.as_bytes(), &key));
        let raw = c.read();
        c.send(&get(&encoded(raw_target.as_bytes()), &key));
        let enc = c.read();
        assert_eq!(raw.status, 200, "{query}: {}", raw.text());
        assert_eq!(raw.text(), list(ids), "{query}");
        assert_eq!(enc.essence(), raw.essence(), "{query}");
    }
}

#[test]
fn raw_utf8_in_a_filter_value_is_the_same_value_as_encoded() {
    let app = TestApp::with(TestDb::seeded("ps_"), serve_settings());
    app.db.exec("INSERT INTO ps_customer_thread (id_customer_thread, id_shop, id_lang, id_contact, id_customer, id_order, id_product, status, email, token, date_add, date_upd) VALUES (4, 1, 1, 1, NULL, 0, 0, 'open', 'chloé@x.fr', 'tok', '2024-05-01 10:00:00', '2024-05-01 10:00:00')");
    let key = app.db.full_key();
    let mut c = Conn::open(&app);
    let raw_target = "/api/customer_threads?filter[email]=[chloé@x.fr]&display=[id,email]";
    c.send(&get(raw_target.as_bytes(), &key));
    let raw = c.read();
    assert_eq!(raw.status, 200, "{}", raw.text());
    assert_eq!(
        raw.text(),
        format!("{XML_HEAD}<customer_threads>\n<customer_thread>\n\t<id><![CDATA[4]]></id>\n\t<email><![CDATA[chloé@x.fr]]></email>\n</customer_thread>\n</customer_threads>\n</prestashop>\n")
    );
    c.send(&get(
        b"/api/customer_threads?filter[email]=[chlo%C3%A9@x.fr]&display=[id,email]",
        &key,
    ));
    assert_eq!(c.read().essence(), raw.essence());

    // A byte that is not UTF-8 (Latin-1 `é`): raw and `%E9` are the same value, which matches
    // nothing (it is read as U+FFFD, never sent to the database as an invalid byte).
    c.send(&get(
        b"/api/customer_threads?filter[email]=[chlo\xe9@x.fr]",
        &key,
    ));
    let latin1 = c.read();
    assert_eq!(latin1.status, 200);
    assert_eq!(latin1.text(), list(&[]));
    c.send(&get(
        b"/api/customer_threads?filter[email]=[chlo%E9@x.fr]",
        &key,
    ));
    assert_eq!(c.read().essence(), latin1.essence());
}

const NEW_THREAD: &str = "<prestashop><customer_thread><id_lang>1</id_lang><id_contact>1</id_contact><token>t2</token></customer_thread></prestashop>";

#[test]
fn a_chunked_post_then_a_pipelined_get_with_a_raw_target() {
    let (app, key) = app_with_key();
    let (a, b) = NEW_THREAD.split_at(40);
    let post = format!(
        "POST /api/customer_threads?x=<1> HTTP/1.1\r\nHost: example.com\r\nAuthorization: {}\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{a}\r\n{:x};ext=1\r\n{b}\r\n0\r\n\r\n",
        basic(&key),
        a.len(),
        b.len()
    );
    let mut c = Conn::open(&app);
    c.send(
        &[
            post.as_bytes(),
            &get(b"/api/customer_threads?filter[id]=>[3]", &key),
        ]
        .concat(),
    );
    let created = c.read();
    assert_eq!(created.status, 201, "{}", created.text());
    assert!(
        created.text().contains("<id><![CDATA[4]]></id>"),
        "{}",
        created.text()
    );
    let listed = c.read();
    assert_eq!(listed.status, 200);
    assert_eq!(listed.text(), list(&[4]));
}

#[test]
fn expect_100_continue_with_a_raw_target() {
    let (app, key) = app_with_key();
    let mut c = Conn::open(&app);
    c.send(
        format!(
            "POST /api/customer_threads?x=<1>&y=\"é\" HTTP/1.1\r\nHost: example.com\r\nAuthorization: {}\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n",
            basic(&key),
            NEW_THREAD.len()
        )
        .as_bytes(),
    );
    let interim = c.read();
    assert_eq!(interim.status, 100);
    assert_eq!(interim.headers, vec![]);
    c.send(NEW_THREAD.as_bytes());
    let created = c.read();
    assert_eq!(created.status, 201, "{}", created.text());
    c.send(&get(b"/api/customer_threads?filter[id]=>[3]", &key));
    assert_eq!(c.read().text(), list(&[4]));
}

#[test]
fn malformed_http_gets_an_error_document_after_the_answers_before_it() {
    let (app, key) = app_with_key();
    // Alone.
    let mut c = Conn::open(&app);
    c.send(b"GET /api/ HTTP/1.1\r\nHost example.com\r\n\r\n");
    assert_eq!(
        String::from_utf8(c.rest()).unwrap(),
        layer_answer(400, "Bad Request")
    );
    // Pipelined after a good request: its answer first, then the error document, then the end.
    let mut c = Conn::open(&app);
    c.send(
        &[
            get(b"/api/customer_threads?filter[id]=<[2]", &key),
            b"GET /api/customer_threads HTTP/1.1\r\nHost: example.com\r\nContent-Length: x\r\n\r\n"
                .to_vec(),
        ]
        .concat(),
    );
    let first = c.read();
    assert_eq!(first.status, 200);
    assert_eq!(first.text(), list(&[1]));
    assert_eq!(
        String::from_utf8(c.rest()).unwrap(),
        layer_answer(400, "Bad Request")
    );
}

#[test]
fn a_100_kb_and_a_1_mb_url_get_414_with_an_error_document() {
    let (app, key) = app_with_key();
    for size in [100 * 1024, 1024 * 1024] {
        let mut target = b"/api/customer_threads?filter[email]=[".to_vec();
        target.resize(size, b'a');
        target.push(b']');
        let mut c = Conn::open(&app);
        // The client writes while the server answers: the layer drains what it does not read.
        let mut writer = c.reader.get_ref().try_clone().unwrap();
        let request = get(&target, &key);
        let sender = std::thread::spawn(move || {
            let _ = writer.write_all(&request);
        });
        assert_eq!(
            String::from_utf8(c.rest()).unwrap(),
            layer_answer(414, "URI Too Long"),
            "{size}"
        );
        sender.join().unwrap();
    }
}

#[test]
fn too_many_or_too_large_headers_get_431_with_an_error_document() {
    let (app, key) = app_with_key();
    let mut many = format!(
        "GET /api/ HTTP/1.1\r\nHost: example.com\r\nAuthorization: {}\r\n",
        basic(&key)
    );
    for i in 0..100 {
        many.push_str(&format!("X-Header-{i}: {i}\r\n"));
    }
    many.push_str("\r\n");
    let mut huge = "GET /api/ HTTP/1.1\r\nHost: example.com\r\nX-Big: ".to_owned();
    huge.push_str(&"b".repeat(200 * 1024));
    huge.push_str("\r\n\r\n");
    for request in [many, huge] {
        let mut c = Conn::open(&app);
        let mut writer = c.reader.get_ref().try_clone().unwrap();
        let sender = std::thread::spawn(move || {
            let _ = writer.write_all(request.as_bytes());
        });
        assert_eq!(
            String::from_utf8(c.rest()).unwrap(),
            layer_answer(431, "Request Header Fields Too Large")
        );
        sender.join().unwrap();
    }
}

#[test]
fn a_slow_first_head_gets_408_with_an_error_document() {
    let mut settings = serve_settings();
    settings.request_head_timeout_ms = 200;
    let app = TestApp::with(TestDb::seeded("ps_"), settings);
    let mut c = Conn::open(&app);
    c.send(b"GET /api/customer_threads HTTP/1.1\r\nHost: exa");
    // The server's own deadline ends the wait; the read blocks until then.
    assert_eq!(
        String::from_utf8(c.rest()).unwrap(),
        layer_answer(408, "Request Timeout")
    );
}
