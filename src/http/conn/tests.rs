use super::*;

use std::collections::VecDeque;

const GET: &[u8] = b"GET /api/customer_threads HTTP/1.1\r\nHost: x\r\n\r\n";

fn advance(data: &[u8]) -> (Stop, Framing) {
    let mut f = Framing::new();
    let stop = f.advance(data);
    (stop, f)
}

fn refused(data: &[u8]) -> Option<Refusal> {
    match advance(data).0 {
        Stop::End { at: 0, refusal } => refusal,
        other => panic!("not refused: {other:?}"),
    }
}

#[test]
fn clean_heads_and_bodies_pass_as_they_are() {
    let mut data = GET.to_vec();
    data.extend_from_slice(
        b"POST /api/customer_threads HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n<a/>\n",
    );
    data.extend_from_slice(b"\r\n");
    data.extend_from_slice(GET);
    let (stop, f) = advance(&data);
    assert_eq!(stop, Stop::All);
    assert_eq!(f.heads, 3);
    assert_eq!(f.state, State::Head);
}

#[test]
fn a_body_that_looks_like_a_head_is_a_body() {
    let mut data = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n".to_vec();
    data.extend_from_slice(b"GET ");
    data.extend_from_slice(b"/ HTTP/1.1\r\nHost: x\r\n\r\n");
    let (stop, f) = advance(&data);
    // After the 4 body bytes, "/ HTTP/1.1" is not a request line.
    assert_eq!(
        stop,
        Stop::End {
            at: 51,
            refusal: Some(Refusal::Malformed)
        }
    );
    assert_eq!(f.heads, 1);
}

#[test]
fn refused_target_bytes_are_encoded_and_nothing_else() {
    let head = "GET /api/x<1>`{}|\\^\"?a=<\">`{}|\\^é&b=%3E#<é HTTP/1.1\r\nHost: x\r\n\r\n";
    let (stop, _) = advance(head.as_bytes());
    assert_eq!(
        stop,
        Stop::Encode {
            at: 0,
            len: head.len()
        }
    );
    let mut out = Vec::new();
    encode_head(head.as_bytes(), &mut out);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "GET /api/x%3C1%3E%60{}|\\^\"?a=%3C%22%3E`{}|\\^%C3%A9&b=%3E#%3C%C3%A9 HTTP/1.1\r\nHost: x\r\n\r\n"
    );
    // A byte that is not UTF-8 (httparse refuses it raw).
    let latin1 = b"GET /api/\xe9?a=\xe9 HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_eq!(
        advance(latin1).0,
        Stop::Encode {
            at: 0,
            len: latin1.len()
        }
    );
    let mut out = Vec::new();
    encode_head(latin1, &mut out);
    assert_eq!(out, b"GET /api/%E9?a=%E9 HTTP/1.1\r\nHost: x\r\n\r\n");
    // The result is what the `http` crate accepts.
    let mut target = Vec::new();
    encode_target(request_target(head.as_bytes()), &mut target);
    assert!(actix_web::http::Uri::try_from(target).is_ok());
}

#[test]
fn every_byte_httparse_takes_is_accepted_by_the_http_crate_once_encoded() {
    for b in (0x21u8..=0x7e).chain(0x80..=0xff) {
        for prefix in [&b"/a"[..], b"/a?q="] {
            let mut raw = prefix.to_vec();
            raw.push(b);
            raw.push(b'z');
            let mut enc = Vec::new();
            encode_target(&raw, &mut enc);
            assert!(
                actix_web::http::Uri::try_from(enc.clone()).is_ok(),
                "{:?}",
                String::from_utf8_lossy(&enc)
            );
            let (_, needed) = measure(&raw);
            assert_eq!(needed, enc != raw);
        }
    }
}

#[test]
fn chunked_bodies_are_followed_to_their_end() {
    let mut data = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    data.extend_from_slice(b"4;ext=1\r\nGET \r\n3 \r\n/ H\r\n0\r\nTrailer: y\r\n\r\n");
    let next = b"GET /?a=<b> HTTP/1.1\r\nHost: x\r\n\r\n";
    let at = data.len();
    data.extend_from_slice(next);
    let (stop, f) = advance(&data);
    assert_eq!(
        stop,
        Stop::Encode {
            at,
            len: next.len()
        }
    );
    assert_eq!(f.heads, 2);
}

#[test]
fn a_chunked_body_actix_would_refuse_ends_the_following() {
    let data = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nGET /<";
    let (stop, f) = advance(data);
    assert_eq!(stop, Stop::All);
    assert_eq!(f.state, State::Pass);
}

#[test]
fn an_incomplete_head_is_held() {
    let (stop, f) = advance(b"GET /<a HTTP/1.1\r\nHos");
    assert_eq!(stop, Stop::Hold(0));
    assert_eq!(f.heads, 0);
    let mut data = GET.to_vec();
    data.extend_from_slice(b"GET / HT");
    assert_eq!(advance(&data).0, Stop::Hold(GET.len()));
}

#[test]
fn connection_close_ends_what_is_handed_over() {
    let first = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let data = [&first[..], b"GET / HTTP/1.1\r\n"].concat();
    assert_eq!(
        advance(&data).0,
        Stop::End {
            at: first.len(),
            refusal: None
        }
    );
    let data = b"GET / HTTP/1.0\r\n\r\nGET /";
    assert_eq!(
        advance(data).0,
        Stop::End {
            at: 18,
            refusal: None
        }
    );
    let first = b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
    let data = [&first[..], b"GET /"].concat();
    assert_eq!(advance(&data).0, Stop::Hold(first.len()));
}

#[test]
fn malformed_heads_are_refused_as_actix_would() {
    use Refusal::*;
    assert_eq!(
        refused(b"GET / HTTP/1.1\r\nHost x\r\n\r\n"),
        Some(Malformed)
    );
    assert_eq!(
        refused(b"GET / HTTP/1.1\r\n\r\n"),
        Some(Malformed),
        "no Host"
    );
    assert_eq!(
        refused(b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n"),
        Some(Malformed)
    );
    assert_eq!(
        refused(b"GET / HTTP/2.0\r\nHost: x\r\n\r\n"),
        Some(Malformed)
    );
    assert_eq!(
        refused(b"G(T / HTTP/1.1\r\nHost: x\r\n\r\n"),
        Some(Malformed)
    );
    assert_eq!(
        refused(b"GET /\x7f HTTP/1.1\r\nHost: x\r\n\r\n"),
        Some(Malformed)
    );
    assert_eq!(
        refused(b"GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n"),
        Some(Malformed)
    );
    for bad in ["+5", "5x", "-1", "1, 2"] {
        let head = format!("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {bad}\r\n\r\n");
        assert_eq!(refused(head.as_bytes()), Some(Malformed), "{bad}");
    }
    assert_eq!(
        refused(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n"),
        Some(Malformed)
    );
    assert_eq!(
        refused(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"),
        Some(Malformed)
    );
    assert_eq!(
        refused(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n"),
        Some(Malformed)
    );
    assert_eq!(refused(b"POST / HTTP/1.0\r\n\r\n"), Some(Malformed));
    assert_eq!(
        refused(b"GET http://[x/ HTTP/1.1\r\nHost: x\r\n\r\n"),
        Some(Malformed)
    );
    // Accepted forms.
    let absolute = b"GET http://x/a<b HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_eq!(
        advance(absolute).0,
        Stop::Encode {
            at: 0,
            len: absolute.len()
        }
    );
    assert_eq!(
        advance(b"POST / HTTP/1.1\r\nHost: x\r\ncontent-length:  0 \r\n\r\n").0,
        Stop::All
    );
}

#[test]
fn oversized_heads_are_refused_with_their_own_status() {
    let mut head = b"GET /".to_vec();
    head.extend(std::iter::repeat_n(b'a', MAX_TARGET));
    head.extend_from_slice(b" HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(refused(&head), Some(Refusal::TargetTooLong));
    // Encoding counts: 30 000 raw `<` are 90 000 bytes encoded.
    let mut head = b"GET /?".to_vec();
    head.extend(std::iter::repeat_n(b'<', 30_000));
    head.extend_from_slice(b" HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(refused(&head), Some(Refusal::TargetTooLong));

    let mut partial = b"GET /".to_vec();
    partial.extend(std::iter::repeat_n(b'a', MAX_HEAD));
    assert_eq!(refused(&partial), Some(Refusal::TargetTooLong));
    let mut partial = b"GET / HTTP/1.1\r\nHost: x\r\nX: ".to_vec();
    partial.extend(std::iter::repeat_n(b'a', MAX_HEAD));
    assert_eq!(refused(&partial), Some(Refusal::HeadTooLarge));

    // A complete head read at once.
    let mut head = b"GET / HTTP/1.1\r\nHost: x\r\nX: ".to_vec();
    head.extend(std::iter::repeat_n(b'a', MAX_HEAD));
    head.extend_from_slice(b"\r\n\r\n");
    assert_eq!(refused(&head), Some(Refusal::HeadTooLarge));

    let mut head = b"GET / HTTP/1.1\r\nHost: x\r\n".to_vec();
    for i in 0..MAX_HEADERS {
        head.extend_from_slice(format!("X-{i}: 1\r\n").as_bytes());
    }
    head.extend_from_slice(b"\r\n");
    assert_eq!(refused(&head), Some(Refusal::HeadTooLarge));
}

#[test]
fn answers_are_error_documents() {
    let answer = String::from_utf8(Refusal::Malformed.answer()).unwrap();
    let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<prestashop xmlns:xlink=\"http://www.w3.org/1999/xlink\">\n<errors>\n<error>\n<code><![CDATA[0]]></code>\n<message><![CDATA[Bad Request]]></message>\n</error>\n</errors>\n</prestashop>\n";
    assert_eq!(
        answer,
        format!(
            "HTTP/1.1 400 Bad Request\r\nContent-Type: text/xml;charset=UTF-8\r\nContent-Length: {}\r\nConnection: close\r\nX-Powered-By: PrestaShop Webservice\r\n\r\n{body}",
            body.len()
        )
    );
}

/// A reader that returns its chunks one read at a time.
struct Script(VecDeque<Vec<u8>>);

impl AsyncRead for Script {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if let Some(mut c) = self.0.pop_front() {
            let n = c.len().min(buf.remaining());
            buf.put_slice(&c[..n]);
            if n < c.len() {
                self.0.push_front(c.split_off(n));
            }
        }
        Poll::Ready(Ok(()))
    }
}

/// Everything the parser reads from `chunks` through the layer, `cap` bytes at a time.
fn through(chunks: Vec<Vec<u8>>, cap: usize) -> Vec<u8> {
    let mut conn = Conn::new(Script(chunks.into()), Duration::ZERO);
    let waker = futures_util::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    let mut out = Vec::new();
    loop {
        let mut space = vec![0u8; cap];
        let mut buf = ReadBuf::new(&mut space);
        match Pin::new(&mut conn).poll_read(&mut cx, &mut buf) {
            Poll::Ready(Ok(())) if buf.filled().is_empty() => return out,
            Poll::Ready(Ok(())) => out.extend_from_slice(buf.filled()),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn the_layer_gives_the_same_bytes_however_they_are_read() {
    let mut input = b"POST /api/customer_threads?a=<1> HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n".to_vec();
    input.extend_from_slice(b"5\r\n<a/>\n\r\n0\r\n\r\n");
    input.extend_from_slice(GET);
    input.extend_from_slice(
        "GET /api/é?filter[id]=>[0] HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n<é".as_bytes(),
    );
    input.extend_from_slice(b"GET /?q=\"x\" HTTP/1.1\r\nHost: x\r\n\r\n");
    let expected = String::from_utf8_lossy(&input)
        .replace("a=<1>", "a=%3C1%3E")
        .replace("/api/é?filter[id]=>[0]", "/api/%C3%A9?filter[id]=%3E[0]")
        .replace("q=\"x\"", "q=%22x%22");
    let whole = through(vec![input.clone()], 64 * 1024);
    assert_eq!(String::from_utf8_lossy(&whole), expected);
    let bytes = through(input.iter().map(|&b| vec![b]).collect(), 64 * 1024);
    assert_eq!(String::from_utf8_lossy(&bytes), expected);
    let small = through(input.chunks(7).map(<[u8]>::to_vec).collect(), 5);
    assert_eq!(String::from_utf8_lossy(&small), expected);
}

#[test]
fn a_refusal_follows_the_requests_before_it() {
    let mut input = GET.to_vec();
    input.extend_from_slice(b"GET / HTTP/1.1\r\nHost x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut conn = Conn::new(Script(vec![input].into()), Duration::ZERO);
    let waker = futures_util::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    let mut space = vec![0u8; 4096];
    let mut buf = ReadBuf::new(&mut space);
    assert!(Pin::new(&mut conn).poll_read(&mut cx, &mut buf).is_ready());
    assert_eq!(buf.filled(), GET);
    let mut buf = ReadBuf::new(&mut space);
    assert!(Pin::new(&mut conn).poll_read(&mut cx, &mut buf).is_ready());
    assert!(
        buf.filled().is_empty(),
        "end of input after the refused head"
    );
    assert_eq!(
        conn.answer.as_ref().map(|a| a.bytes.clone()),
        Some(Refusal::Malformed.answer())
    );
}

#[test]
fn the_webservice_reads_an_encoded_byte_as_php_reads_the_raw_byte() {
    use crate::http::request::parse_api_path;
    use crate::query::Params;
    for raw in [
        &b"<"[..],
        b">",
        b"\"",
        b"`",
        "é".as_bytes(),
        b"\xe9",
        b"\xff\xfe",
    ] {
        let mut target = b"/api/customer_threads/1".to_vec();
        target.extend_from_slice(raw);
        target.extend_from_slice(b"?filter[email]=[");
        target.extend_from_slice(raw);
        target.extend_from_slice(b"]");
        let mut encoded = Vec::new();
        encode_target(&target, &mut encoded);
        let encoded = String::from_utf8(encoded).expect("an encoded target is ASCII");
        let (path, query) = encoded.split_once('?').unwrap();
        // PHP keeps the raw bytes; a Rust string holds them as UTF-8 or U+FFFD.
        let value = String::from_utf8_lossy(raw);
        let api = parse_api_path(path).unwrap();
        assert_eq!(api.id.as_deref(), Some(format!("1{value}").as_str()));
        let params = Params::parse(query);
        let Some(crate::query::Param::Map(filter)) = params.get("filter") else {
            panic!("{query}");
        };
        assert_eq!(
            filter,
            &vec![(
                "email".to_owned(),
                crate::query::Param::Str(format!("[{value}]"))
            )]
        );
    }
}
