//! What a webservice request asks for, read from its path and headers
//! (docs/prestashop/requests.md#paths, docs/prestashop/requests.md#output-format,
//! docs/prestashop/documents.md#root-listing; docs/compatibility.md W10, W27). Pure string work;
//! the handler hands in the raw values.

use std::borrow::Cow;

use actix_web::http::header::{HeaderName, X_FORWARDED_HOST};

use crate::render::Format;

// Header names the webservice reads, as constants: a name given as text is parsed on every look-up.
pub const IO_FORMAT: HeaderName = HeaderName::from_static("io-format");
pub const OUTPUT_FORMAT: HeaderName = HeaderName::from_static("output-format");
pub const LOCAL_CONTENT_SHA1: HeaderName = HeaderName::from_static("local-content-sha1");

/// The parts of `/api/<resource>/<id>` after Apache's rewrite (`url=` in [HT]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiPath {
    /// First segment; empty for the root listing.
    pub resource: String,
    /// Second segment when non-empty (`5`, `5abc`, `abc`): a single resource.
    pub id: Option<String>,
    /// Parameters found after a `&` in the path (docs/compatibility.md W10).
    pub path_params: String,
}

/// Percent-decodes a path the way Apache does before the rewrite (`+` stays `+`).
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// Parses a request path. `None` when it is not under `/api` (`^api(?:/(.*))?$` after any
/// number of leading slashes, so the PHP library's `//api/...` works).
pub fn parse_api_path(raw: &str) -> Option<ApiPath> {
    parse_decoded_api_path(&percent_decode(raw))
}

/// Whether [`parse_api_path`] of the percent-decoded `path` is `Some`, without building it.
pub fn is_api_path(decoded: &str) -> bool {
    let rest = decoded.trim_start_matches('/');
    rest == "api" || rest.starts_with("api/")
}

/// [`parse_api_path`] of a path already percent-decoded.
fn parse_decoded_api_path(path: &str) -> Option<ApiPath> {
    let rest = path.trim_start_matches('/');
    let rest = if rest == "api" {
        ""
    } else {
        rest.strip_prefix("api/")?
    };
    // The PHP library appends `&id_shop=1` without a `?`: parameters start at the `&`.
    let (rest, params) = match rest.split_once('&') {
        Some((p, q)) => (p, q.to_owned()),
        None => (rest, String::new()),
    };
    let mut segments = rest.split('/');
    let resource = segments.next().unwrap_or("").to_owned();
    let id = segments.next().filter(|s| !s.is_empty()).map(str::to_owned);
    Some(ApiPath {
        resource,
        id,
        path_params: params,
    })
}

/// The API path of a percent-decoded request path under a shop's base URI (`/third/api/...` for
/// a shop whose `shop_url` URI is `/third/`, as PrestaShop's rewrite rules serve it), and the
/// base URI the `xlink:href`s keep. A path that does not start with `base_uri`, or whose rest
/// is not an API path, is read from the root with base `/`.
pub fn parse_api_path_under(decoded: &str, base_uri: &str) -> (Option<ApiPath>, String) {
    if base_uri != "/" {
        let starts = decoded
            .as_bytes()
            .get(..base_uri.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(base_uri.as_bytes()));
        if let Some(p) = decoded
            .get(base_uri.len()..)
            .filter(|_| starts)
            .and_then(parse_decoded_api_path)
        {
            return (Some(p), base_uri.to_owned());
        }
    }
    (parse_decoded_api_path(decoded), "/".to_owned())
}

/// The host PrestaShop's `Tools::getHttpHost` reads: `X-Forwarded-Host` whenever the request
/// has it (its values joined by `, ` as a PHP server variable holds them), else `Host`, else
/// nothing.
pub fn request_host(headers: &actix_web::http::header::HeaderMap) -> Cow<'_, str> {
    let mut forwarded = headers.get_all(X_FORWARDED_HOST);
    let (first, more) = match forwarded.next() {
        Some(first) => (Some(first), forwarded.next().is_some()),
        None => (headers.get(actix_web::http::header::HOST), false),
    };
    if more {
        let joined: Vec<&[u8]> = headers
            .get_all(X_FORWARDED_HOST)
            .map(|v| v.as_bytes())
            .collect();
        return Cow::Owned(String::from_utf8_lossy(&joined.join(&b", "[..])).into_owned());
    }
    first.map_or(Cow::Borrowed(""), |v| String::from_utf8_lossy(v.as_bytes()))
}

/// Output format (docs/prestashop/requests.md#output-format): header `Io-Format`, then
/// `Output-Format`, then parameters `output_format`, then `io_format`; the first present decides,
/// and only the exact value `JSON` gives JSON.
pub fn output_format(
    io_header: Option<&[u8]>,
    output_header: Option<&[u8]>,
    output_param: Option<&str>,
    io_param: Option<&str>,
) -> Format {
    let chosen = io_header
        .or(output_header)
        .or(output_param.map(str::as_bytes))
        .or(io_param.map(str::as_bytes));
    if chosen == Some(b"JSON".as_slice()) {
        Format::Json
    } else {
        Format::Xml
    }
}

/// Longest `Host` / `X-Forwarded-Host` value accepted (a DNS name is at most 253 bytes).
pub const MAX_HOST_BYTES: usize = 255;

/// Whether `value` is a `host[:port]` (RFC 9110 `Host`): a name or IPv4 address of letters,
/// digits, `-`, `.` and `_`, or an IPv6 literal in brackets, then an optional port of at most
/// five digits (≤ 65535); at most [`MAX_HOST_BYTES`] bytes. Such a value is copied into every
/// `xlink:href` of a document, so anything longer or stranger is refused before any use.
pub fn valid_host(value: &str) -> bool {
    if value.is_empty() || value.len() > MAX_HOST_BYTES {
        return false;
    }
    let (host_ok, port) = if let Some(rest) = value.strip_prefix('[') {
        let Some((inner, after)) = rest.split_once(']') else {
            return false;
        };
        let ok = !inner.is_empty()
            && inner
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
        match after {
            "" => (ok, None),
            a => match a.strip_prefix(':') {
                Some(p) => (ok, Some(p)),
                None => return false,
            },
        }
    } else {
        let (host, port) = match value.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (value, None),
        };
        let ok = !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
        (ok, port)
    };
    let port_ok = port.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 5
            && p.bytes().all(|b| b.is_ascii_digit())
            && p.parse::<u32>().is_ok_and(|n| n <= 65_535)
    });
    host_ok && port_ok
}

/// The name of the first `Host` or `X-Forwarded-Host` header that is not a valid
/// [`valid_host`] (`X-Forwarded-Host` may list several, comma-separated, within
/// [`MAX_HOST_BYTES`] in all), or `None` when both are absent or valid.
pub fn invalid_host_header(req: &actix_web::HttpRequest) -> Option<&'static str> {
    let headers = req.headers();
    fn text(v: &actix_web::http::header::HeaderValue) -> Option<&str> {
        v.to_str().ok()
    }
    for v in headers.get_all(actix_web::http::header::HOST) {
        if !text(v).is_some_and(|h| valid_host(h.trim())) {
            return Some("Host");
        }
    }
    for v in headers.get_all(X_FORWARDED_HOST) {
        let ok = v.len() <= MAX_HOST_BYTES
            && text(v).is_some_and(|list| list.split(',').all(|h| valid_host(h.trim())));
        if !ok {
            return Some("X-Forwarded-Host");
        }
    }
    None
}

/// Base of every `xlink:href`: `http(s)://host<base URI>api/` (PrestaShop's `wsUrl`). The
/// scheme is `https` iff the shop's `PS_SSL_ENABLED` says so, else the request's
/// (`X-Forwarded-Proto` honoured); the host is `X-Forwarded-Host` when present, else `Host`;
/// the base URI is the request's shop's (`__PS_BASE_URI__`, see [`parse_api_path_under`]).
pub fn ws_url(
    ssl_config: Option<bool>,
    forwarded_proto: Option<&str>,
    request_scheme: &str,
    forwarded_host: Option<&str>,
    host: &str,
    base_uri: &str,
) -> String {
    let https = ssl_config.unwrap_or_else(|| {
        forwarded_proto
            .map(|p| {
                p.split(',')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .eq_ignore_ascii_case("https")
            })
            .unwrap_or(request_scheme == "https")
    });
    let host = forwarded_host
        .map(|h| h.split(',').next().unwrap_or("").trim())
        .filter(|h| !h.is_empty())
        .unwrap_or(host);
    let scheme = if https { "https" } else { "http" };
    let mut url = String::with_capacity(scheme.len() + host.len() + base_uri.len() + 7);
    for part in [scheme, "://", host, base_uri, "api/"] {
        url.push_str(part);
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(resource: &str, id: Option<&str>, params: &str) -> Option<ApiPath> {
        Some(ApiPath {
            resource: resource.into(),
            id: id.map(Into::into),
            path_params: params.into(),
        })
    }

    #[test]
    fn root_collection_and_single_paths() {
        assert_eq!(parse_api_path("/api"), p("", None, ""));
        assert_eq!(parse_api_path("/api/"), p("", None, ""));
        assert_eq!(
            parse_api_path("/api/customer_threads"),
            p("customer_threads", None, "")
        );
        assert_eq!(
            parse_api_path("/api/customer_threads/"),
            p("customer_threads", None, "")
        );
        assert_eq!(
            parse_api_path("/api/customer_threads/5"),
            p("customer_threads", Some("5"), "")
        );
        assert_eq!(
            parse_api_path("/api/customer_threads/5/x"),
            p("customer_threads", Some("5"), "")
        );
        assert_eq!(
            parse_api_path("/api/customer_threads/5abc"),
            p("customer_threads", Some("5abc"), "")
        );
    }

    #[test]
    fn php_library_path_junk_works() {
        assert_eq!(
            parse_api_path("//api/customer_threads"),
            p("customer_threads", None, "")
        );
        assert_eq!(
            parse_api_path("/api/customer_threads&id_shop=1"),
            p("customer_threads", None, "id_shop=1")
        );
        assert_eq!(
            parse_api_path("/api/customer_threads/5&id_shop=1&id_group_shop=2"),
            p("customer_threads", Some("5"), "id_shop=1&id_group_shop=2")
        );
    }

    #[test]
    fn paths_outside_api_are_not_webservice_paths() {
        assert_eq!(parse_api_path("/"), None);
        assert_eq!(parse_api_path("/apifoo"), None);
        assert_eq!(parse_api_path("/foo/api"), None);
    }

    #[test]
    fn is_api_path_agrees_with_parse_api_path() {
        for raw in [
            "/", "/api", "/api/", "//api/x", "/api&a=1", "/apifoo", "/foo/api", "/api/x&y", "",
            "api", "/API/x",
        ] {
            assert_eq!(
                is_api_path(&percent_decode(raw)),
                parse_api_path(raw).is_some(),
                "{raw}"
            );
        }
    }

    #[test]
    fn paths_are_percent_decoded() {
        assert_eq!(
            parse_api_path("/api/customer%5Fthreads/%35"),
            p("customer_threads", Some("5"), "")
        );
        assert_eq!(parse_api_path("/api/x%zz"), p("x%zz", None, ""));
        assert_eq!(parse_api_path("/api/x%"), p("x%", None, ""));
    }

    #[test]
    fn only_exact_json_selects_json_and_headers_win() {
        assert_eq!(output_format(None, None, Some("JSON"), None), Format::Json);
        assert_eq!(output_format(None, None, Some("json"), None), Format::Xml);
        assert_eq!(
            output_format(Some(b"XML"), None, Some("JSON"), None),
            Format::Xml
        );
        assert_eq!(output_format(None, Some(b"JSON"), None, None), Format::Json);
        assert_eq!(output_format(None, None, None, Some("JSON")), Format::Json);
        assert_eq!(
            output_format(None, None, Some("XML"), Some("JSON")),
            Format::Xml
        );
    }

    #[test]
    fn hosts_are_host_and_optional_port_within_255_bytes() {
        for ok in [
            "example.com",
            "shop.test:8443",
            "127.0.0.1:8080",
            "[::1]",
            "[2001:db8::1]:443",
            "my_host",
            &"a".repeat(255),
        ] {
            assert!(valid_host(ok), "{ok}");
        }
        for bad in [
            "",
            &"a".repeat(256),
            "example.com:",
            "example.com:99999",
            "example.com:123456",
            "exa mple.com",
            "a\"b",
            "<x>",
            "[::1",
            "[::1]x",
            "[zz]",
            "host:80:80",
            "user@host",
            "host/path",
        ] {
            assert!(!valid_host(bad), "{bad}");
        }
    }

    #[test]
    fn ws_url_follows_ssl_setting_then_forwarded_headers() {
        assert_eq!(
            ws_url(None, None, "http", None, "example.com", "/"),
            "http://example.com/api/"
        );
        assert_eq!(
            ws_url(Some(true), None, "http", None, "example.com", "/"),
            "https://example.com/api/"
        );
        assert_eq!(
            ws_url(Some(false), Some("https"), "https", None, "h", "/"),
            "http://h/api/"
        );
        assert_eq!(
            ws_url(
                None,
                Some("https"),
                "http",
                Some("shop.test:8443"),
                "h",
                "/"
            ),
            "https://shop.test:8443/api/"
        );
        assert_eq!(
            ws_url(None, None, "http", None, "shops.test", "/third/"),
            "http://shops.test/third/api/"
        );
    }

    #[test]
    fn the_request_host_is_x_forwarded_host_whenever_sent_else_host() {
        use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
        let map = |pairs: &[(&'static str, &'static str)]| {
            let mut m = HeaderMap::new();
            for (n, v) in pairs {
                m.append(HeaderName::from_static(n), HeaderValue::from_static(v));
            }
            m
        };
        assert_eq!(
            request_host(&map(&[("host", "a.test:8080")])),
            "a.test:8080"
        );
        assert_eq!(
            request_host(&map(&[("host", "a.test"), ("x-forwarded-host", "b.test")])),
            "b.test"
        );
        assert_eq!(
            request_host(&map(&[("host", "a.test"), ("x-forwarded-host", "")])),
            "",
            "an empty forwarded host is still the one PHP reads"
        );
        assert_eq!(
            request_host(&map(&[
                ("x-forwarded-host", "b.test"),
                ("x-forwarded-host", "c.test")
            ])),
            "b.test, c.test"
        );
        assert_eq!(request_host(&map(&[])), "");
    }

    #[test]
    fn api_paths_under_a_shop_uri_keep_it_as_their_base() {
        assert_eq!(
            parse_api_path_under("/third/api/customer_threads/5", "/third/"),
            (p("customer_threads", Some("5"), ""), "/third/".to_owned())
        );
        assert_eq!(
            parse_api_path_under("/Third/api", "/third/"),
            (p("", None, ""), "/third/".to_owned())
        );
        // Not under the URI, or not an API path under it: read from the root.
        assert_eq!(
            parse_api_path_under("/api/customer_threads", "/third/"),
            (p("customer_threads", None, ""), "/".to_owned())
        );
        assert_eq!(
            parse_api_path_under("/api/api/x", "/api/"),
            (p("x", None, ""), "/api/".to_owned())
        );
        assert_eq!(
            parse_api_path_under("/api/x", "/api/"),
            (p("x", None, ""), "/".to_owned())
        );
        assert_eq!(
            parse_api_path_under("/third/x", "/third/"),
            (None, "/".to_owned())
        );
    }
}
