//! The connection layer: every accepted connection is read through [`Conn`] before actix-http's
//! HTTP/1 parser sees a byte (docs/architecture.md, "Connection layer").
//!
//! Two jobs, both on the request heads of the connection:
//!
//! - **Request targets as Apache receives them.** The `http` crate refuses some bytes in a
//!   request target that Apache passes to PHP (raw `<`, `>`, `` ` `` in the path; `"`, `<`, `>`
//!   in the query; any byte ≥ 0x80 in either). Those bytes, and only those, are percent-encoded
//!   here. The webservice percent-decodes the path like Apache and the query like PHP's `$_GET`,
//!   so a raw byte and its `%XX` form reach the handlers as the same value
//!   (docs/compatibility.md, "Request targets").
//! - **The HTTP layer's own answers.** A head actix-http would refuse with a bare status and an
//!   empty body (malformed: 400; target too long: 414; head too large or too many header lines:
//!   431; first head not complete in time: 408) is refused here instead, with an XML error
//!   document (code 0) and `Connection: close`, after the answers to the requests before it.
//!
//! To know where each head starts, the layer follows the framing of every request body
//! (`Content-Length`, chunked) the way actix-http does; a connection it cannot follow (an
//! upgrade, `CONNECT`, a chunked body actix-http would refuse) passes through untouched from
//! there on. Fast path: when a read holds only complete heads with nothing to encode and body
//! bytes, the bytes are handed over where they were read, with no copy and no allocation; the
//! heads are checked with `httparse` (the parser actix-http runs) over a header array on the
//! stack.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

use crate::error::ApiError;
use crate::render::{self, Format};

/// Largest request head (request line and header lines) in bytes: actix-http's own limit.
pub const MAX_HEAD: usize = 131_072;
/// Most header lines in a head: actix-http's own limit.
pub const MAX_HEADERS: usize = 96;
/// Longest request target after percent-encoding: the `http` crate's limit (`u16::MAX - 1`).
pub const MAX_TARGET: usize = 65_534;
/// How long the unread input of a refused connection is drained after the answer, so that the
/// answer is not lost to a TCP reset.
const LINGER: Duration = Duration::from_secs(1);

/// Bytes `httparse` accepts in a request target and the `http` crate refuses, in the path
/// (`PathAndQuery::from_shared`: `<`, `>`, `` ` `` and ≥ 0x80) and in the query (`"`, `<`, `>`
/// and ≥ 0x80).
const fn refused(query: bool) -> [bool; 256] {
    let mut t = [false; 256];
    let mut b = 0x80;
    while b < 256 {
        t[b] = true;
        b += 1;
    }
    t[b'<' as usize] = true;
    t[b'>' as usize] = true;
    if query {
        t[b'"' as usize] = true;
    } else {
        t[b'`' as usize] = true;
    }
    t
}
static PATH_REFUSED: [bool; 256] = refused(false);
static QUERY_REFUSED: [bool; 256] = refused(true);
const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Why a connection is answered by this layer and closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not HTTP/1 as actix-http parses it (request line, header syntax, framing headers).
    Malformed,
    /// The request target is longer than [`MAX_TARGET`] once encoded, or the request line is
    /// not complete within [`MAX_HEAD`] bytes.
    TargetTooLong,
    /// The head is larger than [`MAX_HEAD`] or has more than [`MAX_HEADERS`] header lines.
    HeadTooLarge,
    /// The first head of the connection did not arrive within the request head timeout.
    SlowHead,
}

impl Refusal {
    pub fn status(self) -> (u16, &'static str) {
        match self {
            Refusal::Malformed => (400, "Bad Request"),
            Refusal::TargetTooLong => (414, "URI Too Long"),
            Refusal::HeadTooLarge => (431, "Request Header Fields Too Large"),
            Refusal::SlowHead => (408, "Request Timeout"),
        }
    }

    /// The whole HTTP response: a PrestaShop error document with code 0 and the status's
    /// reason phrase as its message (as threadgate re-renders actix's other own errors).
    pub fn answer(self) -> Vec<u8> {
        let (status, reason) = self.status();
        let mut body = Vec::with_capacity(256);
        render::errors(&mut body, Format::Xml, &ApiError::new(status, 0, reason));
        let mut out = format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Type: text/xml;charset=UTF-8\r\n\
             Content-Length: {}\r\nConnection: close\r\nX-Powered-By: PrestaShop Webservice\r\n\r\n",
            body.len()
        )
        .into_bytes();
        out.extend_from_slice(&body);
        out
    }
}

/// Where the connection's bytes stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At a request head, or inside one not complete yet.
    Head,
    /// Body bytes still to come.
    Length(u64),
    /// Inside a chunked body: the decoder's state and the current chunk's remaining size.
    Chunked(Chunk, u64),
    /// Framing this layer does not follow: the rest of the connection passes untouched.
    Pass,
    /// Nothing more is handed over: after the last request of a `Connection: close` exchange,
    /// or after a refusal.
    End,
}

/// actix-http's chunked decoder states (`h1::chunked::ChunkedState`), followed byte by byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    SizeFirst,
    SizeRest,
    SizeLws,
    Extension,
    SizeLf,
    Body,
    BodyCr,
    BodyLf,
    Trailer,
    TrailerLf,
    EndCr,
    EndLf,
}

/// What [`Framing::advance`] found in a slice of input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// Every byte can be handed over unchanged.
    All,
    /// `data[at..]` is a request head not complete yet.
    Hold(usize),
    /// `data[at..at + len]` is a complete head whose target must be encoded (the state is
    /// already past it).
    Encode { at: usize, len: usize },
    /// Nothing from `data[at..]` is handed over; answer with the refusal, if any.
    End { at: usize, refusal: Option<Refusal> },
}

impl Stop {
    fn at(self) -> usize {
        match self {
            Stop::All => 0,
            Stop::Hold(at) | Stop::Encode { at, .. } | Stop::End { at, .. } => at,
        }
    }

    fn shifted(self, by: usize) -> Stop {
        match self {
            Stop::All => Stop::All,
            Stop::Hold(at) => Stop::Hold(at - by),
            Stop::Encode { at, len } => Stop::Encode { at: at - by, len },
            Stop::End { at, refusal } => Stop::End {
                at: at - by,
                refusal,
            },
        }
    }
}

/// The request framing of one connection, fed the bytes in order.
#[derive(Debug)]
struct Framing {
    state: State,
    /// The state after the current body: the next head, or the end of the connection.
    after_body: State,
    /// Bytes of the held head already searched for its end.
    scanned: usize,
    /// Complete heads handed over.
    heads: u64,
    /// The encoded form of the head [`Stop::Encode`] stopped at.
    encoded: Option<Vec<u8>>,
}

impl Framing {
    fn new() -> Framing {
        Framing {
            state: State::Head,
            after_body: State::Head,
            scanned: 0,
            heads: 0,
            encoded: None,
        }
    }

    /// Follows `data` from the current state to the first place where it cannot be handed
    /// over as it is.
    fn advance(&mut self, data: &[u8]) -> Stop {
        let mut i = 0;
        loop {
            match self.state {
                State::Pass => return Stop::All,
                State::End => {
                    return Stop::End {
                        at: i,
                        refusal: None,
                    }
                }
                State::Length(n) => {
                    let take = n.min((data.len() - i) as u64);
                    i += take as usize;
                    if take < n {
                        self.state = State::Length(n - take);
                        return Stop::All;
                    }
                    self.state = self.after_body;
                }
                State::Chunked(..) => {
                    i = self.chunked(data, i);
                    if matches!(self.state, State::Chunked(..)) {
                        return Stop::All;
                    }
                }
                State::Head => {
                    if i == data.len() {
                        return Stop::All;
                    }
                    let from = std::mem::take(&mut self.scanned);
                    let Some(len) = head_end(&data[i..], from) else {
                        let partial = &data[i..];
                        if partial.len() >= MAX_HEAD {
                            self.state = State::End;
                            let line_done = partial[blank_lines(partial)..].contains(&b'\n');
                            return Stop::End {
                                at: i,
                                refusal: Some(if line_done {
                                    Refusal::HeadTooLarge
                                } else {
                                    Refusal::TargetTooLong
                                }),
                            };
                        }
                        self.scanned = partial.len();
                        return Stop::Hold(i);
                    };
                    match self.check(&data[i..i + len]) {
                        Ok(false) => i += len,
                        Ok(true) => return Stop::Encode { at: i, len },
                        Err(refusal) => {
                            self.state = State::End;
                            return Stop::End {
                                at: i,
                                refusal: Some(refusal),
                            };
                        }
                    }
                }
            }
        }
    }

    /// Checks a complete head the way actix-http's decoder does (`h1::decoder`: httparse, the
    /// target's length, `Content-Length`, `Transfer-Encoding`, `Host`) and moves to its body.
    /// `Ok(true)`: its target has bytes to encode.
    fn check(&mut self, head: &[u8]) -> Result<bool, Refusal> {
        self.encoded = None;
        let target = request_target(head);
        let (encoded_len, encode) = measure(target);
        if encoded_len > MAX_TARGET {
            return Err(Refusal::TargetTooLong);
        }
        // actix-http could not hold a longer head in its buffer.
        if head.len() + encoded_len - target.len() >= MAX_HEAD {
            return Err(Refusal::HeadTooLarge);
        }
        // httparse wants the target as UTF-8: the encoded head is the one checked.
        let head = if encode {
            let mut e = Vec::with_capacity(head.len() + encoded_len - target.len());
            encode_head(head, &mut e);
            &*self.encoded.insert(e)
        } else {
            head
        };
        let target = request_target(head);
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(head) {
            Ok(httparse::Status::Complete(_)) => {}
            Ok(httparse::Status::Partial) => return Err(Refusal::Malformed),
            Err(httparse::Error::TooManyHeaders) => return Err(Refusal::HeadTooLarge),
            Err(_) => return Err(Refusal::Malformed),
        }
        let method = req.method.unwrap_or("");
        let http11 = req.version == Some(1);
        // An origin-form target (`/...`) is always valid once encoded; the other forms
        // (absolute, authority, `*`) are left to the `http` crate.
        if target.first() != Some(&b'/') && actix_web::http::Uri::try_from(target).is_err() {
            return Err(Refusal::Malformed);
        }

        let fields = HeadFields::read(req.headers)?;
        fields.check(method, http11)?;
        let HeadFields {
            length,
            chunked,
            close,
            websocket,
            ..
        } = fields;

        self.heads += 1;
        self.after_body = if close.unwrap_or(!http11) {
            State::End
        } else {
            State::Head
        };
        self.state = if chunked {
            State::Chunked(Chunk::SizeFirst, 0)
        } else if websocket {
            State::Pass
        } else {
            match length {
                Some(n) if n > 0 => State::Length(n),
                _ if method == "CONNECT" => State::Pass,
                _ => self.after_body,
            }
        };
        Ok(encode)
    }

    /// Follows a chunked body from `data[i]`; returns where it stopped (the end of `data`, or
    /// the first byte after the body).
    fn chunked(&mut self, data: &[u8], mut i: usize) -> usize {
        let State::Chunked(mut c, mut size) = self.state else {
            return i;
        };
        while i < data.len() {
            if c == Chunk::Body {
                let take = size.min((data.len() - i) as u64);
                i += take as usize;
                size -= take;
                if size == 0 {
                    c = Chunk::BodyCr;
                }
                continue;
            }
            let b = data[i];
            i += 1;
            let next = match (c, b) {
                (Chunk::SizeFirst, _) => hex(b).map(|d| {
                    size = d;
                    Chunk::SizeRest
                }),
                (Chunk::SizeRest, b'\t' | b' ') | (Chunk::SizeLws, b'\t' | b' ') => {
                    Some(Chunk::SizeLws)
                }
                (Chunk::SizeRest | Chunk::SizeLws, b';') => Some(Chunk::Extension),
                (Chunk::SizeRest | Chunk::SizeLws | Chunk::Extension, b'\r') => Some(Chunk::SizeLf),
                (Chunk::SizeRest, _) => hex(b).and_then(|d| {
                    size = size.checked_mul(16)?.checked_add(d)?;
                    Some(Chunk::SizeRest)
                }),
                (Chunk::SizeLws, _) => None,
                (Chunk::Extension, 0x00..=0x08 | 0x0a..=0x1f | 0x7f) => None,
                (Chunk::Extension, _) => Some(Chunk::Extension),
                (Chunk::SizeLf, b'\n') if size > 0 => Some(Chunk::Body),
                (Chunk::SizeLf, b'\n') => Some(Chunk::EndCr),
                (Chunk::BodyCr, b'\r') => Some(Chunk::BodyLf),
                (Chunk::BodyLf, b'\n') => Some(Chunk::SizeFirst),
                (Chunk::Trailer, b'\r') => Some(Chunk::TrailerLf),
                (Chunk::Trailer, _) => Some(Chunk::Trailer),
                (Chunk::TrailerLf, b'\n') => Some(Chunk::EndCr),
                (Chunk::EndCr, b'\r') => Some(Chunk::EndLf),
                (Chunk::EndCr, _) => Some(Chunk::Trailer),
                (Chunk::EndLf, b'\n') => {
                    self.state = self.after_body;
                    return i;
                }
                _ => None,
            };
            match next {
                Some(n) => c = n,
                None => {
                    // actix-http drops such a connection; nothing more to follow.
                    self.state = State::Pass;
                    return data.len();
                }
            }
        }
        self.state = State::Chunked(c, size);
        i
    }
}

fn hex(b: u8) -> Option<u64> {
    (b as char).to_digit(16).map(u64::from)
}

/// What a head's headers say about its framing, read as actix-http's decoder reads them.
#[derive(Debug, Default)]
struct HeadFields<'h> {
    length: Option<u64>,
    /// The last `Transfer-Encoding` value, and how many there were.
    te: Option<&'h str>,
    te_count: usize,
    chunked: bool,
    host: bool,
    /// `Connection: close` (or `upgrade`: actix-http closes after a request it does not
    /// upgrade) or `keep-alive`; `None` when neither was sent.
    close: Option<bool>,
    websocket: bool,
}

impl<'h> HeadFields<'h> {
    /// Reads the headers; a repeated `Content-Length` or `Host`, or an unreadable length, is
    /// malformed.
    fn read(headers: &[httparse::Header<'h>]) -> Result<HeadFields<'h>, Refusal> {
        let mut f = HeadFields::default();
        for h in headers {
            let name = h.name;
            if name.eq_ignore_ascii_case("content-length") {
                let v = header_str(h.value).ok_or(Refusal::Malformed)?.trim();
                if f.length.is_some() || v.starts_with('+') {
                    return Err(Refusal::Malformed);
                }
                f.length = Some(v.parse().map_err(|_| Refusal::Malformed)?);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                f.te_count += 1;
                f.te = header_str(h.value);
            } else if name.eq_ignore_ascii_case("host") {
                if f.host {
                    return Err(Refusal::Malformed);
                }
                f.host = true;
            } else if name.eq_ignore_ascii_case("connection") {
                f.connection(header_str(h.value).unwrap_or(""));
            } else if name.eq_ignore_ascii_case("upgrade") {
                f.websocket |=
                    header_str(h.value).is_some_and(|v| v.trim().eq_ignore_ascii_case("websocket"));
            }
        }
        f.chunked = f.te_count > 0;
        Ok(f)
    }

    /// One `Connection` header's options.
    fn connection(&mut self, value: &str) {
        for option in value.split(',').map(str::trim) {
            if option.eq_ignore_ascii_case("close") {
                self.close = Some(true);
                break;
            } else if option.eq_ignore_ascii_case("upgrade") {
                // actix-http closes after a request it does not upgrade.
                self.close = Some(true);
            } else if option.eq_ignore_ascii_case("keep-alive") && self.close.is_none() {
                self.close = Some(false);
            }
        }
    }

    /// actix-http's rules for a request of `method`: HTTP/1.1 needs a `Host`; chunked only in
    /// HTTP/1.1, alone, without a length; an HTTP/1.0 POST needs a length.
    fn check(&self, method: &str, http11: bool) -> Result<(), Refusal> {
        if http11 && !self.host {
            return Err(Refusal::Malformed);
        }
        if self.chunked
            && (!http11
                || self.te_count > 1
                || self.length.is_some()
                || !self
                    .te
                    .is_some_and(|v| v.trim().eq_ignore_ascii_case("chunked")))
        {
            return Err(Refusal::Malformed);
        }
        if !http11 && method == "POST" && self.length.is_none() && !self.websocket {
            return Err(Refusal::Malformed);
        }
        Ok(())
    }
}

/// A header value as `HeaderValue::to_str` reads it: visible ASCII, spaces and tabs only.
fn header_str(v: &[u8]) -> Option<&str> {
    if v.iter().all(|&b| b == b'\t' || (0x20..0x7f).contains(&b)) {
        std::str::from_utf8(v).ok()
    } else {
        None
    }
}

/// The empty lines httparse skips before a request line.
fn blank_lines(data: &[u8]) -> usize {
    let mut i = 0;
    loop {
        match data.get(i..) {
            Some([b'\r', b'\n', ..]) => i += 2,
            Some([b'\n', ..]) => i += 1,
            _ => return i,
        }
    }
}

/// The length of the head at the start of `data` (through its empty line), if complete;
/// `from`: bytes already searched.
fn head_end(data: &[u8], from: usize) -> Option<usize> {
    let start = blank_lines(data);
    let mut p = from.max(start);
    while let Some(off) = data.get(p..)?.iter().position(|&b| b == b'\n') {
        let lf = p + off;
        let empty_line = lf > start
            && (data[lf - 1] == b'\n'
                || (data[lf - 1] == b'\r' && lf >= start + 2 && data[lf - 2] == b'\n'));
        if empty_line {
            return Some(lf + 1);
        }
        p = lf + 1;
    }
    None
}

/// The request target: between the first two spaces of the request line (httparse allows
/// exactly one space on each side).
fn request_target(head: &[u8]) -> &[u8] {
    let line = &head[blank_lines(head)..];
    let line = &line[..line.iter().position(|&b| b == b'\n').unwrap_or(line.len())];
    let Some(start) = line.iter().position(|&b| b == b' ') else {
        return &[];
    };
    let rest = &line[start + 1..];
    let end = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
    &rest[..end]
}

/// Calls `f` with each byte of a target and whether it must be encoded there.
#[inline]
fn each_target_byte(target: &[u8], mut f: impl FnMut(u8, bool)) {
    let mut table = &PATH_REFUSED;
    for &b in target {
        f(b, table[b as usize]);
        // The `http` crate drops a fragment unread, but httparse wants it to be UTF-8: it is
        // encoded like a query.
        if b == b'?' || b == b'#' {
            table = &QUERY_REFUSED;
        }
    }
}

/// The target's length once encoded, and whether anything is to encode.
fn measure(target: &[u8]) -> (usize, bool) {
    let mut extra = 0;
    each_target_byte(target, |_, enc| extra += if enc { 2 } else { 0 });
    (target.len() + extra, extra > 0)
}

fn encode_target(target: &[u8], out: &mut Vec<u8>) {
    each_target_byte(target, |b, enc| {
        if enc {
            out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        } else {
            out.push(b);
        }
    });
}

/// Writes `head` with its target encoded.
fn encode_head(head: &[u8], out: &mut Vec<u8>) {
    let target = request_target(head);
    let start = target.as_ptr() as usize - head.as_ptr() as usize;
    out.extend_from_slice(&head[..start]);
    encode_target(target, out);
    out.extend_from_slice(&head[start + target.len()..]);
}

/// An answer of this layer being written.
#[derive(Debug)]
struct Answer {
    bytes: Vec<u8>,
    sent: usize,
    shut: bool,
    linger: Option<Pin<Box<Sleep>>>,
}

/// A connection read through the layer (see the module documentation).
#[derive(Debug)]
pub struct Conn<T> {
    io: T,
    framing: Framing,
    /// Bytes for the HTTP parser that the slow path produced (encoded heads, what followed).
    out: Vec<u8>,
    out_at: usize,
    /// A head not complete yet, held back until it is.
    held: Vec<u8>,
    /// The parser gets the end of input once `out` is empty.
    eof: bool,
    answer: Option<Answer>,
    /// Deadline of the connection's first head (actix-http's own head timer is off).
    first_head: Option<Pin<Box<Sleep>>>,
}

impl<T> Conn<T> {
    /// `head_timeout`: time for the first request head to arrive (0: no limit).
    pub fn new(io: T, head_timeout: Duration) -> Conn<T> {
        Conn {
            io,
            framing: Framing::new(),
            out: Vec::new(),
            out_at: 0,
            held: Vec::new(),
            eof: false,
            answer: None,
            first_head: (!head_timeout.is_zero())
                .then(|| Box::pin(tokio::time::sleep(head_timeout))),
        }
    }

    /// Takes the bytes from where the fast path stopped (`stop` relative to `data`) through
    /// the slow path: into `out`, `held`, or an end.
    fn divert(&mut self, data: Vec<u8>, mut stop: Stop) {
        let mut i = 0;
        loop {
            match stop {
                Stop::All => {
                    self.out.extend_from_slice(&data[i..]);
                    break;
                }
                Stop::Hold(at) => {
                    self.out.extend_from_slice(&data[i..i + at]);
                    if i + at == 0 {
                        self.held = data;
                    } else {
                        self.held.extend_from_slice(&data[i + at..]);
                    }
                    break;
                }
                Stop::Encode { at, len } => {
                    self.out.extend_from_slice(&data[i..i + at]);
                    match self.framing.encoded.take() {
                        Some(e) => self.out.extend_from_slice(&e),
                        None => encode_head(&data[i + at..i + at + len], &mut self.out),
                    }
                    i += at + len;
                }
                Stop::End { at, refusal } => {
                    self.out.extend_from_slice(&data[i..i + at]);
                    self.end(refusal);
                    break;
                }
            }
            stop = self.framing.advance(&data[i..]);
        }
        if self.framing.heads > 0 {
            self.first_head = None;
        }
    }

    fn end(&mut self, refusal: Option<Refusal>) {
        self.eof = true;
        self.held = Vec::new();
        if let Some(r) = refusal {
            tracing::debug!(
                status = r.status().0,
                "request refused by the connection layer"
            );
            self.answer = Some(Answer {
                bytes: r.answer(),
                sent: 0,
                shut: false,
                linger: None,
            });
        }
    }

    /// After a read that would block: the first head's deadline.
    fn poll_first_head(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let expired = self
            .first_head
            .as_mut()
            .is_some_and(|t| t.as_mut().poll(cx).is_ready());
        if !expired {
            return Poll::Pending;
        }
        self.first_head = None;
        self.out.clear();
        self.out_at = 0;
        self.end(Some(Refusal::SlowHead));
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Conn<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.out_at < this.out.len() {
                let n = (this.out.len() - this.out_at).min(buf.remaining());
                buf.put_slice(&this.out[this.out_at..this.out_at + n]);
                this.out_at += n;
                if this.out_at == this.out.len() {
                    this.out.clear();
                    this.out_at = 0;
                }
                return Poll::Ready(Ok(()));
            }
            if this.eof || buf.remaining() == 0 {
                return Poll::Ready(Ok(()));
            }
            if this.held.is_empty() {
                // Fast path: read where the parser wants the bytes.
                let before = buf.filled().len();
                match Pin::new(&mut this.io).poll_read(cx, buf) {
                    Poll::Pending => return this.poll_first_head(cx),
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Ready(Ok(())) => {}
                }
                let new = &buf.filled()[before..];
                if new.is_empty() {
                    this.eof = true;
                    return Poll::Ready(Ok(()));
                }
                let stop = this.framing.advance(new);
                if stop == Stop::All {
                    if this.framing.heads > 0 {
                        this.first_head = None;
                    }
                    return Poll::Ready(Ok(()));
                }
                let at = stop.at();
                let rest = new[at..].to_vec();
                buf.set_filled(before + at);
                this.divert(rest, stop.shifted(at));
                if at > 0 {
                    return Poll::Ready(Ok(()));
                }
            } else {
                // A head is held: read the rest of it.
                let mut chunk = [0u8; 8192];
                let mut rb = ReadBuf::new(&mut chunk);
                match Pin::new(&mut this.io).poll_read(cx, &mut rb) {
                    Poll::Pending => return this.poll_first_head(cx),
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Ready(Ok(())) => {}
                }
                if rb.filled().is_empty() {
                    // The client stopped inside a head: actix-http would close silently.
                    this.end(None);
                    continue;
                }
                let mut data = std::mem::take(&mut this.held);
                data.extend_from_slice(rb.filled());
                let stop = this.framing.advance(&data);
                this.divert(data, stop);
            }
        }
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Conn<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    /// Writes this layer's answer (after everything actix-http wrote), closes the sending
    /// side, then drains what the client still sends for up to [`LINGER`].
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let Some(a) = this.answer.as_mut() else {
            return Pin::new(&mut this.io).poll_shutdown(cx);
        };
        while a.sent < a.bytes.len() {
            let n = ready!(Pin::new(&mut this.io).poll_write(cx, &a.bytes[a.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            a.sent += n;
        }
        if !a.shut {
            ready!(Pin::new(&mut this.io).poll_flush(cx))?;
            ready!(Pin::new(&mut this.io).poll_shutdown(cx))?;
            a.shut = true;
            a.linger = Some(Box::pin(tokio::time::sleep(LINGER)));
        }
        let mut sink = [0u8; 8192];
        loop {
            if let Some(t) = a.linger.as_mut() {
                if t.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Ok(()));
                }
            }
            let mut rb = ReadBuf::new(&mut sink);
            match Pin::new(&mut this.io).poll_read(cx, &mut rb) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(())) if !rb.filled().is_empty() => {}
                Poll::Ready(_) => return Poll::Ready(Ok(())),
            }
        }
    }
}

#[cfg(test)]
mod tests;
