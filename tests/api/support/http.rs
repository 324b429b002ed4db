//! A minimal HTTP/1.1 client over a TcpStream: exact status, headers in order, body
//! (chunked bodies decoded).

use std::io::{Read, Write};
use std::net::TcpStream;

use base64::Engine;

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub chunked: bool,
}

impl Response {
    /// The value of a header (case-insensitive name), if present once or more (first wins).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("UTF-8 body")
    }
}

pub fn basic(key: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{key}:"))
    )
}

pub fn send(port: u16, head: &str, body: &[u8]) -> Response {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    send_on(stream, head, body)
}

/// Like [`send`], from a chosen local address (Linux routes all of 127/8 to the loopback
/// interface, so `127.0.0.2` is "another client").
pub fn send_from(local: std::net::IpAddr, port: u16, head: &str, body: &[u8]) -> Response {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    socket
        .bind(&std::net::SocketAddr::new(local, 0).into())
        .expect("bind the local address");
    socket
        .connect(&std::net::SocketAddr::from(([127, 0, 0, 1], port)).into())
        .expect("connect");
    send_on(socket.into(), head, body)
}

fn send_on(mut stream: TcpStream, head: &str, body: &[u8]) -> Response {
    let mut req = head.to_owned();
    let lower = head.to_ascii_lowercase();
    if !lower.contains("\r\nhost:") {
        req.push_str("\r\nHost: example.com");
    }
    if !lower.contains("\r\nconnection:") {
        req.push_str("\r\nConnection: close");
    }
    if !body.is_empty() && !lower.contains("\r\ncontent-length:") {
        req.push_str(&format!("\r\nContent-Length: {}", body.len()));
    }
    req.push_str("\r\n\r\n");
    stream.write_all(req.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read response");
    parse(&raw, head.starts_with("HEAD "))
}

/// Parses a response read off a socket by hand (tests that write to the socket themselves).
pub fn parse_response(raw: &[u8]) -> Response {
    parse(raw, false)
}

fn parse(raw: &[u8], head_request: bool) -> Response {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let head = std::str::from_utf8(&raw[..split]).expect("ASCII headers");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let mut parts = status_line.splitn(3, ' ');
    let _version = parts.next();
    let status: u16 = parts.next().unwrap().parse().unwrap();
    let reason = parts.next().unwrap_or("").to_owned();
    let headers: Vec<(String, String)> = lines
        .map(|l| {
            let (n, v) = l.split_once(':').expect("header line");
            (n.to_owned(), v.trim().to_owned())
        })
        .collect();
    let rest = &raw[split + 4..];
    let chunked = headers.iter().any(|(n, v)| {
        n.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    let body = if head_request {
        Vec::new()
    } else if chunked {
        dechunk(rest)
    } else {
        rest.to_vec()
    };
    Response {
        status,
        reason,
        headers,
        body,
        chunked,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let eol = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size line");
        let size =
            usize::from_str_radix(std::str::from_utf8(&data[..eol]).unwrap().trim(), 16).unwrap();
        data = &data[eol + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}
