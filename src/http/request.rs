//! What a webservice request asks for, read from its path and headers
//! (docs/prestashop/requests.md#paths, docs/prestashop/requests.md#output-format,
//! docs/prestashop/documents.md#root-listing; docs/compatibility.md W10, W27). Pure string work;
//! the handler hands in the raw values.

use crate::render::Format;

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
fn percent_decode(s: &str) -> String {
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
    let path = percent_decode(raw);
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

/// Base of every `xlink:href` (docs/prestashop/documents.md#link-base, docs/compatibility.md W27):
/// `http(s)://host/api/`. The scheme is `https` iff the shop's `PS_SSL_ENABLED` says so, else the
/// request's (`X-Forwarded-Proto` honoured); the host is `X-Forwarded-Host` when present, else
/// `Host`.
pub fn ws_url(
    ssl_config: Option<bool>,
    forwarded_proto: Option<&str>,
    request_scheme: &str,
    forwarded_host: Option<&str>,
    host: &str,
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
    format!("{}://{}/api/", if https { "https" } else { "http" }, host)
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
    fn ws_url_follows_ssl_setting_then_forwarded_headers() {
        assert_eq!(
            ws_url(None, None, "http", None, "example.com"),
            "http://example.com/api/"
        );
        assert_eq!(
            ws_url(Some(true), None, "http", None, "example.com"),
            "https://example.com/api/"
        );
        assert_eq!(
            ws_url(Some(false), Some("https"), "https", None, "h"),
            "http://h/api/"
        );
        assert_eq!(
            ws_url(None, Some("https"), "http", Some("shop.test:8443"), "h"),
            "https://shop.test:8443/api/"
        );
    }
}
