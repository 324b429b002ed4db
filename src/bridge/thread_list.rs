//! myKaarma "Get customer thread list" (docs/bridges.md#mykaarma-thread-list,
//! docs/bridges.md#thread-list-fields): the request body with its warnings and errors, one summary
//! per thread, filters, sorting and the response envelope.
//!
//! Warning or error (docs/bridges.md#thread-list-requests): input that can be repaired with a
//! documented default (maxResults out of range, an unknown sort key or order) is a warning and the
//! call succeeds; input that names something that does not exist or cannot be parsed is an error
//! with a 4xx status. Every error description ends with `Reference MessageID: <requestUUID>`.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use super::ThreadRow;
use super::{
    assignee, mykaarma_date, reply_needed_since, to_utc, uuid_of, KeyFailure, MessageRow,
    ReadFailure, Refusal, RowKind,
};
use crate::error::UNAVAILABLE_RETRY_AFTER;

/// `maxResults` when absent, null or out of range below (the sibling endpoint's default).
pub const DEFAULT_MAX_RESULTS: i64 = 20;
pub const MAX_MAX_RESULTS: i64 = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    LastMessageOn,
    LastDelegationOn,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortOrder {
    Asc,
    Desc,
}

/// A parsed request body (docs/bridges.md#thread-list-request-and-response,
/// docs/bridges.md#thread-list-requests step 4). `assignee` is still unresolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub assignee: Option<String>,
    pub is_archived: Option<bool>,
    pub is_closed: Option<bool>,
    pub max_results: usize,
    pub sort_key: SortKey,
    pub sort_order: SortOrder,
    pub warnings: Vec<Warning>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Warning {
    pub warning_code: &'static str,
    pub warning_description: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorEntry {
    pub error_code: &'static str,
    pub error_description: String,
    #[serde(rename = "errorUID")]
    pub error_uid: String,
}

/// One thread of the response, fields in the order of myKaarma's example.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerThread {
    pub id: u32,
    pub archived: bool,
    pub closed: bool,
    pub dealer_uuid: String,
    pub department_uuid: String,
    pub user_uuid: Option<String>,
    pub customer_uuid: String,
    pub last_message_on: String,
    pub last_delegation_on: Option<i64>,
    pub is_waiting_for_response: bool,
}

/// The response envelope, success and error alike. `T` is the threads' JSON array: built, or
/// already rendered (`&RawValue`, a page kept with the cached read).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Envelope<T = Vec<CustomerThread>> {
    #[serde(rename = "customerThreads")]
    pub customer_threads: T,
    #[serde(rename = "requestUUID")]
    pub request_uuid: String,
    pub errors: Vec<ErrorEntry>,
    pub warnings: Vec<Warning>,
}

/// The errors of this route: myKaarma's codes and statuses
/// (docs/bridges.md#thread-list-authentication-and-errors, docs/bridges.md#thread-list-requests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    CredentialsAreNull,
    WrongCredential,
    NotAuthorized,
    InvalidCustomer(String),
    InvalidUser(String),
    InvalidRequestData(String),
    MethodNotAllowed,
    TooManyRequests,
    ServiceUnavailable,
    /// The body did not arrive in time (`http::body`).
    RequestTimeout,
    /// The memory for request bodies is spent (`http::body`).
    Busy,
    /// The database is unavailable (threadgate's own: myKaarma documents no such answer).
    Unavailable,
    Internal,
}

impl Failure {
    pub fn status(&self) -> u16 {
        match self {
            Failure::CredentialsAreNull | Failure::WrongCredential | Failure::NotAuthorized => 401,
            Failure::InvalidCustomer(_)
            | Failure::InvalidUser(_)
            | Failure::InvalidRequestData(_) => 400,
            Failure::MethodNotAllowed => 405,
            Failure::TooManyRequests => 429,
            Failure::ServiceUnavailable | Failure::Busy | Failure::Unavailable => 503,
            Failure::RequestTimeout => 408,
            Failure::Internal => 500,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Failure::CredentialsAreNull => "CREDENTIALS_ARE_NULL",
            Failure::WrongCredential => "WRONG_CREDENTIAL",
            Failure::NotAuthorized => "NOT_AUTHORIZED_REQUEST",
            Failure::InvalidCustomer(_) => "INVALID_CUSTOMER",
            Failure::InvalidUser(_) => "INVALID_USER",
            Failure::InvalidRequestData(_) => "INVALID_REQUEST_DATA",
            Failure::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            Failure::TooManyRequests => "TOO_MANY_REQUESTS",
            Failure::ServiceUnavailable | Failure::Busy | Failure::Unavailable => {
                "SERVICE_UNAVAILABLE"
            }
            Failure::RequestTimeout => "REQUEST_TIMEOUT",
            Failure::Internal => "INTERNAL_SERVER_ERROR",
        }
    }

    fn description(&self) -> String {
        match self {
            Failure::CredentialsAreNull => {
                "Credentials are null, Authorization refused. Please contact Communications API support.".into()
            }
            Failure::WrongCredential => "Credentials are wrong, Authorization refused for provided credentials. Please contact Communications API support.".into(),
            Failure::NotAuthorized => "Request is not authorized for the given department. Please contact Communications API support.".into(),
            Failure::InvalidCustomer(v) => format!("CUSTOMER_UUID={v} is invalid."),
            Failure::InvalidUser(v) => format!("USER_UUID={v} is invalid."),
            Failure::InvalidRequestData(why) => format!("Incorrect data sent in request: {why}."),
            Failure::MethodNotAllowed => "Method not allowed, use POST.".into(),
            Failure::TooManyRequests => "Too many failed authentication attempts from this address, retry later.".into(),
            Failure::ServiceUnavailable => "The webservice is disabled.".into(),
            Failure::RequestTimeout => "The request body did not arrive in time.".into(),
            Failure::Busy => "Too many request bodies are being received at once, retry later.".into(),
            Failure::Unavailable => "The service is temporarily unavailable, retry later.".into(),
            Failure::Internal => "Internal error.".into(),
        }
    }

    /// The error entry: a fresh `errorUID` and the `Reference MessageID` suffix.
    pub fn entry(&self, request_uuid: &str) -> ErrorEntry {
        ErrorEntry {
            error_code: self.code(),
            error_description: format!(
                "{} Reference MessageID: {request_uuid}",
                self.description()
            ),
            error_uid: Uuid::new_v4().to_string(),
        }
    }
}

/// Why a thread list request is refused: the failure, the warnings of the body when it was
/// parsed before the failure was found, and `Retry-After` for a 429.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListError {
    pub failure: Failure,
    pub warnings: Vec<Warning>,
    pub retry_after: Option<u64>,
}

impl From<Failure> for ListError {
    fn from(failure: Failure) -> ListError {
        ListError {
            failure,
            warnings: Vec::new(),
            retry_after: None,
        }
    }
}

impl ListError {
    /// A failure found after the body was parsed: the body's warnings go with it.
    pub fn after(failure: Failure, body: &Result<Request, Failure>) -> ListError {
        ListError {
            warnings: body
                .as_ref()
                .map(|b| b.warnings.clone())
                .unwrap_or_default(),
            ..ListError::from(failure)
        }
    }

    /// The database is unavailable, or the shop configuration not loaded yet.
    pub fn unavailable() -> ListError {
        ListError {
            retry_after: Some(UNAVAILABLE_RETRY_AFTER),
            ..Failure::Unavailable.into()
        }
    }

    /// The memory for request bodies is spent: retry in a second.
    pub fn busy() -> ListError {
        ListError {
            retry_after: Some(1),
            ..Failure::Busy.into()
        }
    }

    /// The error envelope: no threads, the error entry and the warnings.
    pub fn body(self, request_uuid: String) -> Vec<u8> {
        serde_json::to_vec(&Envelope {
            customer_threads: Vec::<CustomerThread>::new(),
            errors: vec![self.failure.entry(&request_uuid)],
            request_uuid,
            warnings: self.warnings,
        })
        .unwrap_or_default()
    }
}

impl Refusal for ListError {
    const REALM: &'static str = "Basic realm=\"communications\"";
    const ALLOW: &'static str = "POST";

    fn status(&self) -> u16 {
        self.failure.status()
    }

    fn retry_after(&self) -> Option<u64> {
        self.retry_after
    }
}

impl From<KeyFailure> for ListError {
    fn from(f: KeyFailure) -> ListError {
        match f {
            KeyFailure::Wrong => Failure::WrongCredential.into(),
            KeyFailure::NoPermission => Failure::NotAuthorized.into(),
            KeyFailure::TooMany(retry_after) => ListError {
                retry_after,
                ..Failure::TooManyRequests.into()
            },
            KeyFailure::Unavailable => ListError::unavailable(),
            KeyFailure::Internal => Failure::Internal.into(),
        }
    }
}

impl From<ReadFailure> for ListError {
    fn from(f: ReadFailure) -> ListError {
        match f {
            ReadFailure::Unavailable => ListError::unavailable(),
            ReadFailure::Internal => Failure::Internal.into(),
        }
    }
}

fn wrong_type(field: &str, expected: &str) -> Failure {
    Failure::InvalidRequestData(format!("{field} must be {expected}"))
}

/// Parses the body (docs/bridges.md#thread-list-requests step 4): missing, non-JSON, not an object
/// or a field of the wrong JSON type is `INVALID_REQUEST_DATA`; unknown fields are ignored;
/// repairable values are warnings.
pub fn parse_body(body: &[u8]) -> Result<Request, Failure> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Failure::InvalidRequestData("the body is missing".into()));
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| Failure::InvalidRequestData("the body is not JSON".into()))?;
    let Value::Object(map) = value else {
        return Err(Failure::InvalidRequestData(
            "the body is not a JSON object".into(),
        ));
    };
    let field = |name: &str| map.get(name).filter(|v| !v.is_null());
    let boolean = |name: &str| -> Result<Option<bool>, Failure> {
        field(name)
            .map(|v| v.as_bool().ok_or_else(|| wrong_type(name, "a boolean")))
            .transpose()
    };
    let string = |name: &str| -> Result<Option<&str>, Failure> {
        field(name)
            .map(|v| v.as_str().ok_or_else(|| wrong_type(name, "a string")))
            .transpose()
    };
    let mut warnings = Vec::new();
    let assignee = string("assigneeUserUUID")?.map(str::to_owned);
    let is_archived = boolean("isArchived")?;
    let is_closed = boolean("isClosed")?;
    let max_results = max_results(field("maxResults"), &mut warnings)?;
    let sort_key = sort_key(string("sortOrderKey")?, &mut warnings);
    let sort_order = sort_order(string("sortOrder")?, &mut warnings);
    Ok(Request {
        assignee,
        is_archived,
        is_closed,
        max_results: max_results as usize,
        sort_key,
        sort_order,
        warnings,
    })
}

/// `maxResults`: 1 to {MAX_MAX_RESULTS}, the default when below 1 (with a warning when changed).
fn max_results(v: Option<&Value>, warnings: &mut Vec<Warning>) -> Result<i64, Failure> {
    Ok(match v {
        None => DEFAULT_MAX_RESULTS,
        Some(v) => {
            let n = match (v.as_i64(), v.as_u64()) {
                (Some(n), _) => n,
                (None, Some(_)) => i64::MAX,
                _ => return Err(wrong_type("maxResults", "an integer")),
            };
            let used = if n < 1 {
                DEFAULT_MAX_RESULTS
            } else {
                n.min(MAX_MAX_RESULTS)
            };
            if used != n {
                warnings.push(Warning {
                    warning_code: "INVALID_MAXRESULTS",
                    warning_description: format!(
                        "Invalid maxResults. maxResults should be between 1 and {MAX_MAX_RESULTS}. Used {used}"
                    ),
                });
            }
            used
        }
    })
}

/// `sortOrderKey`: an unknown key sorts by the last message (with a warning).
fn sort_key(v: Option<&str>, warnings: &mut Vec<Warning>) -> SortKey {
    match v {
        None | Some("LAST_MESSAGE_ON") => SortKey::LastMessageOn,
        Some("LAST_DELEGATION_ON") => SortKey::LastDelegationOn,
        Some(_) => {
            warnings.push(Warning {
                warning_code: "INVALID_SORT_ORDER_KEY",
                warning_description: "Invalid sortOrderKey. sortOrderKey should be LAST_MESSAGE_ON or LAST_DELEGATION_ON. Used LAST_MESSAGE_ON".into(),
            });
            SortKey::LastMessageOn
        }
    }
}

/// `sortOrder`, any case: an unknown order is `DESC` (with a warning).
fn sort_order(v: Option<&str>, warnings: &mut Vec<Warning>) -> SortOrder {
    match v {
        None => SortOrder::Desc,
        Some(s) if s.eq_ignore_ascii_case("DESC") => SortOrder::Desc,
        Some(s) if s.eq_ignore_ascii_case("ASC") => SortOrder::Asc,
        Some(_) => {
            warnings.push(Warning {
                warning_code: "INVALID_SORT_ORDER",
                warning_description:
                    "Invalid sortOrder. sortOrder should be ASC or DESC. Used DESC".into(),
            });
            SortOrder::Desc
        }
    }
}

/// One thread with what sorting and filtering need; ids and dates are turned into UUIDs and
/// strings only for the threads returned ([`render`]), since a customer may have thousands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub id: u32,
    pub closed: bool,
    pub shop: u32,
    pub contact: u32,
    pub customer: u32,
    pub owner: Option<u32>,
    pub last_message: DateTime<Utc>,
    pub last_delegation_ms: Option<i64>,
    pub waiting: bool,
}

/// docs/bridges.md#thread-list-fields: one thread's summary from its row and all its messages
/// (oldest first).
pub fn summarize(thread: &ThreadRow, messages: &[MessageRow], tz: Tz) -> Summary {
    let utc = |s: &str| to_utc(tz, s);
    let created = utc(&thread.date_add)
        .or_else(|| utc(&thread.date_upd))
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    // Notes bump lastMessageOn too (myKaarma internal notes do).
    let last = messages
        .iter()
        .filter_map(|m| utc(&m.date_add))
        .max()
        .unwrap_or(created);
    let owner = assignee(messages);
    Summary {
        id: thread.id,
        closed: thread.status == "closed",
        shop: thread.id_shop,
        contact: thread.id_contact,
        customer: thread.id_customer,
        owner: owner.map(|(e, _)| e),
        last_message: last,
        last_delegation_ms: owner
            .and_then(|(_, m)| utc(&m.date_add))
            .map(|d| d.timestamp_millis()),
        waiting: reply_needed_since(&thread.status, messages).is_some(),
    }
}

/// The response entry of a summary. `ids` remembers the UUIDs already computed: a page
/// repeats the same shop, department, customer and a few employees.
fn render(s: &Summary, ids: &mut Uuids<'_>) -> CustomerThread {
    CustomerThread {
        id: s.id,
        archived: false,
        closed: s.closed,
        dealer_uuid: ids.get(RowKind::Shop, s.shop),
        department_uuid: ids.get(RowKind::Contact, s.contact),
        user_uuid: s.owner.map(|e| ids.get(RowKind::Employee, e)),
        customer_uuid: ids.get(RowKind::Customer, s.customer),
        last_message_on: mykaarma_date(s.last_message),
        last_delegation_on: s.last_delegation_ms,
        is_waiting_for_response: s.waiting,
    }
}

/// UUIDv5 strings of one response, each hashed once.
struct Uuids<'a> {
    namespace: &'a Uuid,
    known: Vec<(RowKind, u32, String)>,
}

impl Uuids<'_> {
    fn get(&mut self, entity: RowKind, id: u32) -> String {
        if let Some((_, _, u)) = self.known.iter().find(|(e, n, _)| *e == entity && *n == id) {
            return u.clone();
        }
        let u = uuid_of(self.namespace, entity, id).to_string();
        self.known.push((entity, id, u.clone()));
        u
    }
}

/// Filters (docs/bridges.md#thread-list-requests step 4), sorts by the key then the id in the same
/// direction (a null `lastDelegationOn` is the smallest value, MySQL's convention), then truncates.
/// Only the page is sorted: the rest is partitioned away first.
pub fn select<'a>(
    all: impl IntoIterator<Item = &'a Summary>,
    req: &Request,
    assignee: Option<u32>,
    namespace: &Uuid,
) -> Vec<CustomerThread> {
    if req.is_archived == Some(true) || req.max_results == 0 {
        return Vec::new();
    }
    let sort_key = |s: &Summary| -> (Option<i64>, u32) {
        let k = match req.sort_key {
            SortKey::LastMessageOn => Some(s.last_message.timestamp_millis()),
            SortKey::LastDelegationOn => s.last_delegation_ms,
        };
        (k, s.id)
    };
    let mut keyed: Vec<((Option<i64>, u32), &Summary)> = all
        .into_iter()
        .filter(|s| {
            req.is_closed.is_none_or(|c| s.closed == c)
                && assignee.is_none_or(|a| s.owner == Some(a))
        })
        .map(|s| (sort_key(s), s))
        .collect();
    let order = |a: &((Option<i64>, u32), &Summary), b: &((Option<i64>, u32), &Summary)| match req
        .sort_order
    {
        SortOrder::Asc => a.0.cmp(&b.0),
        SortOrder::Desc => b.0.cmp(&a.0),
    };
    if keyed.len() > req.max_results {
        keyed.select_nth_unstable_by(req.max_results - 1, order);
        keyed.truncate(req.max_results);
    }
    // Keys are unique (the id is part of them), so an unstable sort is deterministic.
    keyed.sort_unstable_by(order);
    let mut ids = Uuids {
        namespace,
        known: Vec::new(),
    };
    keyed.iter().map(|(_, s)| render(s, &mut ids)).collect()
}

#[cfg(test)]
mod tests {

    fn summaries(n: u32) -> Vec<Summary> {
        // Many equal dates and delegations, some null: ties must fall back to the id.
        (1..=n)
            .map(|id| Summary {
                id: id * 7 % 1009,
                closed: id % 3 == 0,
                shop: 1,
                contact: 2,
                customer: 3,
                owner: (id % 4 != 0).then_some(id % 5),
                last_message: DateTime::<Utc>::UNIX_EPOCH
                    + chrono::Duration::minutes(i64::from(id % 17)),
                last_delegation_ms: (id % 4 != 0).then_some(i64::from(id % 11) * 1000),
                waiting: id % 2 == 0,
            })
            .collect()
    }

    #[test]
    fn the_page_is_what_sorting_everything_and_truncating_gives() {
        let ns = Uuid::parse_str(crate::bridge::DEFAULT_NAMESPACE).unwrap();
        let all = summaries(1000);
        for key in [SortKey::LastMessageOn, SortKey::LastDelegationOn] {
            for order in [SortOrder::Asc, SortOrder::Desc] {
                for max in [1, 20, 100] {
                    for closed in [None, Some(true)] {
                        let req = Request {
                            assignee: None,
                            is_archived: None,
                            is_closed: closed,
                            max_results: max,
                            sort_key: key,
                            sort_order: order,
                            warnings: Vec::new(),
                        };
                        // The reference: a full stable sort of every matching summary.
                        let mut expected: Vec<&Summary> = all
                            .iter()
                            .filter(|s| closed.is_none_or(|c| s.closed == c))
                            .collect();
                        let k = |s: &&Summary| match key {
                            SortKey::LastMessageOn => {
                                (Some(s.last_message.timestamp_millis()), s.id)
                            }
                            SortKey::LastDelegationOn => (s.last_delegation_ms, s.id),
                        };
                        expected.sort_by_key(k);
                        if order == SortOrder::Desc {
                            expected.reverse();
                        }
                        let ids: Vec<u32> =
                            select(&all, &req, None, &ns).iter().map(|t| t.id).collect();
                        let want: Vec<u32> = expected.iter().take(max).map(|s| s.id).collect();
                        assert_eq!(ids, want, "{key:?} {order:?} {max} {closed:?}");
                    }
                }
            }
        }
    }

    use super::*;

    fn body(s: &str) -> Result<Request, Failure> {
        parse_body(s.as_bytes())
    }

    #[test]
    fn an_empty_object_takes_every_default() {
        let r = body("{}").unwrap();
        assert_eq!(r.max_results, 20);
        assert_eq!(r.sort_key, SortKey::LastMessageOn);
        assert_eq!(r.sort_order, SortOrder::Desc);
        assert!(r.warnings.is_empty());
        assert_eq!(
            body(r#"{"maxResults":null,"sortOrder":null,"x":1}"#).unwrap(),
            r
        );
    }

    #[test]
    fn out_of_range_max_results_is_a_warning_with_a_default() {
        let r = body(r#"{"maxResults":0}"#).unwrap();
        assert_eq!(r.max_results, 20);
        assert_eq!(r.warnings[0].warning_code, "INVALID_MAXRESULTS");
        assert_eq!(
            r.warnings[0].warning_description,
            "Invalid maxResults. maxResults should be between 1 and 100. Used 20"
        );
        let r = body(r#"{"maxResults":101}"#).unwrap();
        assert_eq!(r.max_results, 100);
        assert!(r.warnings[0].warning_description.ends_with("Used 100"));
        let r = body(r#"{"maxResults":18446744073709551615}"#).unwrap();
        assert_eq!(r.max_results, 100);
        assert!(body(r#"{"maxResults":100}"#).unwrap().warnings.is_empty());
    }

    #[test]
    fn unknown_sort_values_are_warnings_lowercase_order_is_fine() {
        let r = body(r#"{"sortOrderKey":"DATE","sortOrder":"up"}"#).unwrap();
        let codes: Vec<_> = r.warnings.iter().map(|w| w.warning_code).collect();
        assert_eq!(codes, ["INVALID_SORT_ORDER_KEY", "INVALID_SORT_ORDER"]);
        let r = body(r#"{"sortOrderKey":"LAST_DELEGATION_ON","sortOrder":"asc"}"#).unwrap();
        assert!(r.warnings.is_empty());
        assert_eq!(
            (r.sort_key, r.sort_order),
            (SortKey::LastDelegationOn, SortOrder::Asc)
        );
    }

    #[test]
    fn unparsable_bodies_and_wrong_types_are_errors() {
        for b in [
            "",
            "  ",
            "{",
            "[]",
            "null",
            r#"{"maxResults":"ten"}"#,
            r#"{"maxResults":1.5}"#,
            r#"{"isClosed":"yes"}"#,
            r#"{"assigneeUserUUID":5}"#,
            r#"{"sortOrder":1}"#,
        ] {
            let e = body(b).unwrap_err();
            assert_eq!(e.code(), "INVALID_REQUEST_DATA", "{b}");
            assert_eq!(e.status(), 400);
        }
    }

    #[test]
    fn error_entries_carry_a_uid_and_the_reference_suffix() {
        let e = Failure::InvalidCustomer("abc".into()).entry("RID");
        assert_eq!(e.error_code, "INVALID_CUSTOMER");
        assert_eq!(
            e.error_description,
            "CUSTOMER_UUID=abc is invalid. Reference MessageID: RID"
        );
        assert_eq!(Uuid::parse_str(&e.error_uid).unwrap().get_version_num(), 4);
    }
}
