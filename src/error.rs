//! `ApiError`: the one error type of the webservice, shaped like PrestaShop's own error list.
//!
//! Which error belongs where:
//! - pure modules (`query`, `validate`, `ingest`, `auth` parsing) return `ApiError` built with
//!   the constructors below, one per PrestaShop error code, with the exact texts of
//!   docs/prestashop/errors.md#codes;
//! - `db` returns [`DbError`]; the handler turns it into `ApiError::unavailable` (503, the
//!   database cannot be reached) or `ApiError::internal` (500, any other failure), never a SQL
//!   text, a file path or a stack trace in a body (docs/compatibility.md W20). That conversion
//!   (`From<DbError> for ApiError`) lives in `db::fault`, beside the rules that tell an outage
//!   from a failed statement, so this module imports nothing from `db`;
//! - `http` is the only place that renders an `ApiError` (XML or JSON,
//!   docs/prestashop/errors.md#document), and it re-renders actix's own errors through it.
//!
//! Every error records where it was raised (`#[track_caller]`), for the logs only.

use std::panic::Location;

/// One `<error>` entry: PrestaShop code and message (the message is not escaped,
/// docs/prestashop/errors.md#document).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorEntry {
    pub code: u32,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status: the status of the last error raised (docs/prestashop/requests.md#pipeline
    /// step 6).
    pub status: u16,
    /// Errors in the order they were raised; empty means "empty body" (404 of an unknown id).
    pub errors: Vec<ErrorEntry>,
    /// Send `WWW-Authenticate` (authentication failures,
    /// docs/prestashop/authentication.md#outcomes).
    pub www_authenticate: bool,
    /// Seconds for `Retry-After` (rate limiting).
    pub retry_after: Option<u64>,
    /// Where the error was raised, for logs.
    pub location: &'static Location<'static>,
    /// For a database that is unavailable ([`ApiError::unavailable`]): why, for the logs only.
    pub cause: Option<String>,
}

/// The realm PrestaShop sends with every authentication failure
/// (docs/prestashop/authentication.md#outcomes).
pub const WWW_AUTHENTICATE: &str = "Basic realm=\"Welcome to PrestaShop Webservice, please enter the authentication key as the login. No password required.\"";

impl ApiError {
    #[track_caller]
    pub fn new(status: u16, code: u32, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            errors: vec![ErrorEntry {
                code,
                message: message.into(),
            }],
            www_authenticate: false,
            retry_after: None,
            location: Location::caller(),
            cause: None,
        }
    }

    /// Appends another error; the response status becomes this one's (the last raised wins).
    pub fn and(mut self, status: u16, code: u32, message: impl Into<String>) -> ApiError {
        self.status = status;
        self.errors.push(ErrorEntry {
            code,
            message: message.into(),
        });
        self
    }

    fn auth(mut self) -> ApiError {
        self.www_authenticate = true;
        self
    }

    /// GET/HEAD of an unknown id: 404 with an empty body and no error document
    /// (docs/prestashop/documents.md#single-resources, W19).
    #[track_caller]
    pub fn not_found_empty() -> ApiError {
        ApiError {
            status: 404,
            errors: Vec::new(),
            www_authenticate: false,
            retry_after: None,
            location: Location::caller(),
            cause: None,
        }
    }

    /// An unexpected failure (database down, ...). The body never carries the cause (W20).
    #[track_caller]
    pub fn internal() -> ApiError {
        ApiError::new(500, 0, "Internal error")
    }

    /// The database cannot be reached (no connection within the checkout time, a connection
    /// lost, no answer in time) or the shop configuration is not loaded yet: 503 with
    /// `Retry-After` (docs/compatibility.md, Database). `cause` goes to the logs only.
    #[track_caller]
    pub fn unavailable(cause: impl Into<String>) -> ApiError {
        let mut e = ApiError::new(503, 0, UNAVAILABLE_MESSAGE);
        e.retry_after = Some(UNAVAILABLE_RETRY_AFTER);
        e.cause = Some(cause.into());
        e
    }

    /// Whether this is [`ApiError::unavailable`].
    pub fn is_unavailable(&self) -> bool {
        self.cause.is_some() && self.status == 503
    }

    // --- authentication (docs/prestashop/authentication.md#outcomes, docs/compatibility.md W2) ---

    #[track_caller]
    pub fn no_key() -> ApiError {
        ApiError::new(
            401,
            16,
            "Please enter the authentication key as the login. No password required",
        )
        .auth()
    }

    #[track_caller]
    pub fn empty_key() -> ApiError {
        ApiError::new(401, 17, "Authentication key is empty").auth()
    }

    #[track_caller]
    pub fn bad_key_format() -> ApiError {
        ApiError::new(401, 18, "Invalid authentication key format").auth()
    }

    /// Unknown or inactive key: PrestaShop raises 20 then 21.
    #[track_caller]
    pub fn key_not_active() -> ApiError {
        ApiError::new(401, 20, "Authentification key is not active")
            .and(401, 21, "No permission for this authentication key")
            .auth()
    }

    /// Active key without any permission row.
    #[track_caller]
    pub fn key_without_permissions() -> ApiError {
        ApiError::new(401, 21, "No permission for this authentication key").auth()
    }

    #[track_caller]
    pub fn webservice_disabled() -> ApiError {
        ApiError::new(
            503,
            22,
            "The PrestaShop webservice is disabled. Please activate it in the PrestaShop Back Office",
        )
    }

    #[track_caller]
    pub fn too_many_failures(retry_after: u64) -> ApiError {
        let mut e = ApiError::new(
            429,
            0,
            "Too many failed authentication attempts from this address, retry later",
        );
        e.retry_after = Some(retry_after);
        e
    }

    // --- resource and method (docs/prestashop/authentication.md#permissions) ---

    #[track_caller]
    pub fn invalid_method(method: &str) -> ApiError {
        ApiError::new(405, 23, format!("Method {method} is not valid"))
    }

    #[track_caller]
    pub fn method_not_allowed_for_key(method: &str, resource: &str) -> ApiError {
        ApiError::new(
            405,
            25,
            format!("Method {method} is not allowed for the resource {resource} with this authentication key"),
        )
    }

    #[track_caller]
    pub fn resource_not_allowed(resource: &str) -> ApiError {
        ApiError::new(
            401,
            26,
            format!("Resource of type \"{resource}\" is not allowed with this authentication key"),
        )
    }

    #[track_caller]
    pub fn unknown_resource(resource: &str, candidates: &[&str]) -> ApiError {
        ApiError::new(
            400,
            27,
            did_you_mean(
                &format!("Resource of type \"{resource}\" does not exists"),
                resource,
                candidates,
            ),
        )
    }

    // --- list parameters (docs/prestashop/lists.md) ---

    #[track_caller]
    pub fn bad_schema() -> ApiError {
        ApiError::new(400, 28, "Please select a schema of type 'synopsis' to get the whole schema informations (which fields are required, which kind of content...) or 'blank' to get an empty schema to fill before using POST request")
    }

    #[track_caller]
    pub fn no_linked_table() -> ApiError {
        ApiError::new(
            400,
            31,
            "There is no existing linked table for this resource",
        )
    }

    #[track_caller]
    pub fn unknown_filter(field: &str, available: &[&str]) -> ApiError {
        ApiError::new(
            400,
            32,
            did_you_mean("This filter does not exist", field, available),
        )
    }

    #[track_caller]
    pub fn malformed_filter(field: &str) -> ApiError {
        ApiError::new(400, 33, format!("The filter \"{field}\" is malformed."))
    }

    /// `field` is the whole quoted part, details included (docs/prestashop/lists.md#display).
    #[track_caller]
    pub fn bad_display_field(field: &str, available: &[&str]) -> ApiError {
        ApiError::new(
            400,
            35,
            format!(
                "Unable to display this field \"{field}\". However, these are available: {}",
                available.join(", ")
            ),
        )
    }

    #[track_caller]
    pub fn bad_display_syntax(available: &[&str]) -> ApiError {
        ApiError::new(
            400,
            36,
            format!(
                "The 'display' syntax is wrong. You can set 'full' or '[field_1,field_2,field_3,...]'. These are available: {}",
                available.join(", ")
            ),
        )
    }

    #[track_caller]
    pub fn bad_sort_syntax() -> ApiError {
        ApiError::new(400, 37, "The \"sort\" value has to be formed as this example: \"field_ASC\" or '[field_1_DESC,field_2_ASC,field_3_ASC,...]' (\"field\" has to be an available field)")
    }

    #[track_caller]
    pub fn bad_sort_field(available: &[&str]) -> ApiError {
        ApiError::new(
            400,
            38,
            format!(
                "Unable to filter by this field. However, these are available: {}, for i18n fields:",
                available.join(", ")
            ),
        )
    }

    #[track_caller]
    pub fn bad_limit() -> ApiError {
        ApiError::new(
            400,
            39,
            "The \"limit\" value has to be formed as this example: \"5,25\" or \"10\"",
        )
    }

    // --- language (docs/prestashop/requests.md#language) ---

    #[track_caller]
    pub fn language_range() -> ApiError {
        ApiError::new(
            400,
            78,
            "A range value for a language must contains only 2 values",
        )
    }

    #[track_caller]
    pub fn language_value() -> ApiError {
        ApiError::new(400, 79, "language value is wrong")
    }

    #[track_caller]
    pub fn language_not_numeric() -> ApiError {
        ApiError::new(400, 80, "Language ID must be numeric")
    }

    /// Appended after 78/79/80, or alone when no known language is left.
    pub const LANGUAGE_NOT_AVAILABLE: (u16, u32, &'static str) =
        (400, 81, "language is not available");

    // --- shops (docs/prestashop/requests.md#shops, docs/compatibility.md W26) ---

    #[track_caller]
    pub fn shop_group_without_shops() -> ApiError {
        ApiError::new(500, 999, "This shop group doesn't have shops")
    }

    #[track_caller]
    pub fn unknown_shop_id() -> ApiError {
        ApiError::new(404, 999, "This shop id does not exist")
    }

    #[track_caller]
    pub fn key_not_on_shop() -> ApiError {
        ApiError::new(403, 132, "No permission for this key on this shop")
    }

    /// A core PrestaShop resource threadgate does not serve (only customer_threads and
    /// customer_messages are implemented).
    #[track_caller]
    pub fn not_served(resource: &str) -> ApiError {
        ApiError::new(
            501,
            124,
            format!(
                "The specific management class is not implemented for the \"{resource}\" entity."
            ),
        )
    }

    // --- writes (docs/prestashop/writes.md#per-entity-processing steps 3-4) ---

    /// A required element is absent from a POST/PUT body (`WebserviceRequest::saveEntityFromXml`).
    #[track_caller]
    pub fn required_field(name: &str) -> ApiError {
        ApiError::new(400, 41, format!("parameter \"{name}\" required"))
    }

    /// An `ObjectModel::validateField` failure; `message` is already HTML-escaped
    /// (`Property CustomerThread-&gt;email is not valid`).
    #[track_caller]
    pub fn validation(message: &str) -> ApiError {
        ApiError::new(400, 85, format!("Validation error: \"{message}\""))
    }

    // --- request bodies (docs/prestashop/writes.md#body; src/ingest) ---

    /// A body that is not parsable XML, or empty: 500 code 127 with PrestaShop's message
    /// (`WebserviceRequest::saveEntityFromXml`) and SimpleXML's parser message.
    #[track_caller]
    pub fn xml_error(body: &[u8]) -> ApiError {
        ApiError::xml_refused(body, XML_PARSE_FAILED)
    }

    /// A body refused before or while parsing, with a more precise parser message than
    /// SimpleXML's (NUL byte, invalid UTF-8, a DTD, too many elements): same code, status and
    /// message shape as [`ApiError::xml_error`]. `XML length` is the whole body's byte length;
    /// `Original XML` echoes at most [`XML_ECHO_LIMIT`] bytes of it (PrestaShop echoes it all,
    /// so a 10 MB malformed body gave a 10 MB error document; docs/compatibility.md W20).
    #[track_caller]
    pub fn xml_refused(body: &[u8], parser_message: &str) -> ApiError {
        ApiError::new(
            500,
            127,
            format!(
                "XML error : {parser_message}\nXML length : {}\nOriginal XML : {}",
                body.len(),
                bounded_echo(body)
            ),
        )
    }

    /// A JSON body (threadgate's extension, docs/compatibility.md "JSON request bodies") that
    /// cannot be read: the shape of [`ApiError::xml_refused`], `JSON` in place of `XML`.
    #[track_caller]
    pub fn json_refused(body: &[u8], reason: &str) -> ApiError {
        ApiError::new(
            500,
            127,
            format!(
                "JSON error : {reason}\nJSON length : {}\nOriginal JSON : {}",
                body.len(),
                bounded_echo(body)
            ),
        )
    }

    /// A body longer than the configured limit, refused before it is read whole: 413 with code
    /// 127 (PrestaShop has no code for this; 127 is the code clients already treat as "this
    /// body was not accepted"). Nothing of the body is echoed.
    #[track_caller]
    pub fn body_too_large(limit: usize) -> ApiError {
        ApiError::new(
            413,
            127,
            format!("XML error : Request body too large: the limit is {limit} bytes"),
        )
    }

    /// The body did not arrive within its time (`http::body`); the connection is closed.
    #[track_caller]
    pub fn body_timeout(seconds: u64) -> ApiError {
        ApiError::new(
            408,
            127,
            format!(
                "XML error : the request body did not arrive within {seconds} second{}",
                if seconds == 1 { "" } else { "s" }
            ),
        )
    }

    /// The memory for request bodies being read is spent (`THREADGATE_BODY_MEMORY_MIB`).
    #[track_caller]
    pub fn bodies_busy() -> ApiError {
        let mut e = ApiError::new(
            503,
            0,
            "Too many request bodies are being received at once, retry later",
        );
        e.retry_after = Some(1);
        e
    }

    /// A `Host` or `X-Forwarded-Host` that is not a `host[:port]` of at most 255 bytes
    /// (`http::request::valid_host`); the value is not echoed.
    #[track_caller]
    pub fn bad_host(header: &str) -> ApiError {
        ApiError::new(
            400,
            0,
            format!("Invalid {header} header: expected host[:port] of at most 255 bytes"),
        )
    }

    // --- routes outside the webservice ---

    #[track_caller]
    pub fn route_not_found() -> ApiError {
        ApiError::new(404, 0, "No route matches this request")
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        for e in &self.errors {
            write!(f, " [{}] {}", e.code, e.message)?;
        }
        write!(f, " (raised at {})", self.location)
    }
}

impl std::error::Error for ApiError {}

/// The message of [`ApiError::unavailable`].
pub const UNAVAILABLE_MESSAGE: &str = "The database is unavailable, retry later";

/// `Retry-After` seconds of every "database unavailable" answer (the API's and the bridges').
pub const UNAVAILABLE_RETRY_AFTER: u64 = 2;

/// SimpleXML's exception text for any body libxml2 cannot parse, empty bodies included.
pub const XML_PARSE_FAILED: &str = "String could not be parsed as XML";

/// How many bytes of a refused body error 127 echoes after `Original XML : `.
pub const XML_ECHO_LIMIT: usize = 1024;

/// The first [`XML_ECHO_LIMIT`] bytes of `body`, cut on a character boundary when the body is
/// UTF-8, and decoded lossily (invalid bytes become U+FFFD). The renderer replaces characters
/// XML cannot carry (NUL, other controls), so the error document stays well-formed.
fn bounded_echo(body: &[u8]) -> String {
    let mut end = body.len().min(XML_ECHO_LIMIT);
    if end < body.len() {
        // Back off over continuation bytes (at most 3) so a multibyte character is not split.
        let floor = end.saturating_sub(3);
        while end > floor && body[end] & 0xC0 == 0x80 {
            end -= 1;
        }
    }
    String::from_utf8_lossy(&body[..end]).into_owned()
}

/// A failure in the database layer. Its text goes to the logs, never to a client.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("connection pool: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
    #[error("query: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("connection: {0}")]
    Connection(#[from] diesel::ConnectionError),
    #[error("the blocking task was cancelled")]
    Cancelled,
    /// No connection within the checkout time.
    #[error("no database connection: {0}")]
    Unavailable(String),
    /// No answer within the pool's timeout (the statement may still complete).
    #[error("no answer from the database within {} ms", .0.as_millis())]
    TimedOut(std::time::Duration),
    /// The shop configuration is not loaded yet (the server started before its database).
    #[error("the shop configuration is not loaded yet")]
    NotReady,
}

/// PrestaShop's "did you mean" message (`WebserviceRequest::getErrorMessageSuggestion`,
/// docs/prestashop/errors.md#did-you-mean): closest candidate by byte-wise Levenshtein distance,
/// ties going to the later entry, then the full list when there is more than one candidate.
pub fn did_you_mean(label: &str, input: &str, candidates: &[&str]) -> String {
    let mut best: Option<(usize, &str)> = None;
    for &c in candidates {
        if c == input {
            best = Some((0, c));
            break;
        }
        let d = levenshtein(input.as_bytes(), c.as_bytes());
        if best.is_none_or(|(bd, _)| d <= bd) {
            best = Some((d, c));
        }
    }
    let mut msg = label.to_owned();
    if let Some((_, closest)) = best {
        msg.push_str(&format!(". Did you mean: \"{closest}\"?"));
    }
    if candidates.len() > 1 {
        let list: Vec<String> = candidates.iter().map(|c| format!("\"{c}\"")).collect();
        msg.push_str(" The full list is: ");
        msg.push_str(&list.join(", "));
    }
    msg
}

/// Byte-wise Levenshtein distance, like PHP's `levenshtein()` with unit costs.
fn levenshtein(a: &[u8], b: &[u8]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, &ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let subst = prev[j] + usize::from(ca != cb);
            cur[j + 1] = subst.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// Errors of the write side (docs/prestashop/writes.md, docs/compatibility.md W9, W22).
impl ApiError {
    #[track_caller]
    pub fn id_duplicate() -> ApiError {
        ApiError::new(400, 89, "id is duplicate in request")
    }

    #[track_caller]
    pub fn id_required() -> ApiError {
        ApiError::new(400, 90, "id is required when modifying a resource")
    }

    #[track_caller]
    pub fn id_forbidden() -> ApiError {
        ApiError::new(400, 91, "id is forbidden when adding a new resource")
    }

    #[track_caller]
    pub fn invalid_id() -> ApiError {
        ApiError::new(404, 92, "Invalid ID")
    }

    #[track_caller]
    pub fn unknown_association(name: &str) -> ApiError {
        ApiError::new(
            400,
            86,
            format!("The association \"{name}\" does not exists"),
        )
    }

    /// `ids` are the strings the client sent, joined with `, `.
    #[track_caller]
    pub fn ids_not_found(ids: &[String]) -> ApiError {
        ApiError::new(404, 87, format!("Id(s) not exists: {}", ids.join(", ")))
    }

    /// The connection broke while the body was being read.
    #[track_caller]
    pub fn unreadable_body() -> ApiError {
        ApiError::new(400, 127, "XML error : the request body could not be read")
    }

    #[track_caller]
    pub fn save_failed() -> ApiError {
        ApiError::new(500, 46, "Unable to save resource")
    }

    #[track_caller]
    pub fn delete_failed(ids: &[String]) -> ApiError {
        ApiError::new(500, 88, format!("Id(s) wasn't deleted: {}", ids.join(", ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILTERS: [&str; 10] = [
        "id",
        "id_lang",
        "id_shop",
        "id_customer",
        "id_order",
        "id_product",
        "id_contact",
        "email",
        "token",
        "status",
    ];

    #[test]
    fn unknown_filter_suggests_the_closest_field_and_lists_all() {
        let e = ApiError::unknown_filter("mail", &FILTERS);
        assert_eq!(
            e.errors[0].message,
            "This filter does not exist. Did you mean: \"email\"? The full list is: \"id\", \"id_lang\", \"id_shop\", \"id_customer\", \"id_order\", \"id_product\", \"id_contact\", \"email\", \"token\", \"status\""
        );
        assert_eq!((e.status, e.errors[0].code), (400, 32));
    }

    #[test]
    fn levenshtein_ties_go_to_the_later_candidate() {
        // "ab" is at distance 1 from both "a" and "b".
        assert_eq!(
            did_you_mean("x", "ab", &["a", "b"]),
            "x. Did you mean: \"b\"? The full list is: \"a\", \"b\""
        );
    }

    #[test]
    fn a_single_candidate_has_no_full_list() {
        assert_eq!(did_you_mean("x", "y", &["z"]), "x. Did you mean: \"z\"?");
    }

    #[test]
    fn unknown_key_raises_20_then_21_with_www_authenticate() {
        let e = ApiError::key_not_active();
        let codes: Vec<_> = e.errors.iter().map(|e| e.code).collect();
        assert_eq!(codes, [20, 21]);
        assert!(e.www_authenticate);
        assert_eq!(e.status, 401);
    }

    #[test]
    fn xml_error_has_prestashops_three_line_message() {
        let e = ApiError::xml_error(b"<a>");
        assert_eq!((e.status, e.errors[0].code), (500, 127));
        assert_eq!(
            e.errors[0].message,
            "XML error : String could not be parsed as XML\nXML length : 3\nOriginal XML : <a>"
        );
    }

    #[test]
    fn xml_error_echoes_at_most_1024_bytes_without_splitting_a_character() {
        let mut body = vec![b'a'; 1023];
        body.extend_from_slice("é".as_bytes()); // bytes 1023 and 1024
        body.extend_from_slice(&[b'b'; 100]);
        let e = ApiError::xml_error(&body);
        let expected = format!(
            "XML error : String could not be parsed as XML\nXML length : 1125\nOriginal XML : {}",
            "a".repeat(1023)
        );
        assert_eq!(e.errors[0].message, expected);
    }

    #[test]
    fn body_too_large_is_413_code_127_and_names_the_limit() {
        let e = ApiError::body_too_large(20);
        assert_eq!((e.status, e.errors[0].code), (413, 127));
        assert_eq!(
            e.errors[0].message,
            "XML error : Request body too large: the limit is 20 bytes"
        );
    }

    #[test]
    fn levenshtein_counts_bytes() {
        assert_eq!(levenshtein(b"kitten", b"sitting"), 3);
        assert_eq!(levenshtein(b"", b"abc"), 3);
        assert_eq!(levenshtein("é".as_bytes(), b"e"), 2);
    }
}
