//! The two foreign formats (bridges.md): Mirakl M10 ([`mirakl_m10`]) and the myKaarma customer
//! thread list ([`thread_list`]), both built from the same PrestaShop rows.
//!
//! This module owns what both bridges share, so there is one copy of the thread logic:
//! the rows ([`ThreadRow`], [`MessageRow`], read by `db::bridge`), the message classification
//! of docs/bridges.md#message-classification, "shop reply needed since"
//! (docs/bridges.md#m10-fields, which is also the thread list's `isWaitingForResponse`,
//! docs/bridges.md#thread-list-fields), the derived assignee
//! (docs/bridges.md#assignee-and-delegation), shop-time → UTC (docs/bridges.md#dates) and the
//! stable ids (docs/bridges.md#ids).
//!
//! Pure: no actix, no connection. The `http` layer parses and authenticates; [`cached`] reads
//! through the bridges' caches ([`reads`]: the rows, [`ids`]: UUID → id; these three use `db`,
//! never actix); the rest renders.

pub mod cached;
pub mod ids;
pub mod mirakl_m10;
pub mod reads;
pub mod thread_list;

use std::path::Path;

use chrono::{DateTime, Duration, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use uuid::Uuid;

/// A `customer_thread` row with the names the bridges show, joined in the same statement.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ThreadRow {
    pub id: u32,
    pub id_shop: u32,
    pub id_lang: u32,
    pub id_contact: u32,
    /// 0 for a guest thread (NULL or 0 in the table, docs/bridges.md#decisions).
    pub id_customer: u32,
    pub id_order: u32,
    pub id_product: u32,
    pub status: String,
    pub email: String,
    /// `Y-m-d H:i:s` in the shop's time zone, as stored.
    pub date_add: String,
    pub date_upd: String,
    /// `contact_lang.name` in the thread's language.
    pub contact_name: Option<String>,
    /// `orders.reference`.
    pub order_reference: Option<String>,
    /// `product_lang.name` in the thread's language and shop.
    pub product_name: Option<String>,
    pub customer_firstname: Option<String>,
    pub customer_lastname: Option<String>,
}

/// A `customer_message` row with its author's name (employee messages), oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageRow {
    pub id: u32,
    pub thread: u32,
    /// 0 when the customer wrote it (NULL or 0, as `CustomerThread::getNextThread` tests).
    pub id_employee: u32,
    pub message: String,
    pub file_name: Option<String>,
    pub date_add: String,
    pub private: bool,
    pub employee_firstname: Option<String>,
    pub employee_lastname: Option<String>,
    /// Bytes of the attached file, filled in by the caller (0 when unreadable).
    pub file_size: u64,
}

impl MessageRow {
    /// docs/bridges.md#message-classification: written by the customer when `id_employee` is NULL
    /// or 0.
    pub fn by_customer(&self) -> bool {
        self.id_employee == 0
    }

    /// docs/bridges.md#message-classification: what PrestaShop's front office shows the customer
    /// (`private = 0`).
    pub fn customer_visible(&self) -> bool {
        !self.private
    }

    /// A reply the customer sees: a public employee message.
    pub fn public_reply(&self) -> bool {
        !self.by_customer() && !self.private
    }

    /// The attachment's name, when there is one.
    pub fn attachment(&self) -> Option<&str> {
        self.file_name.as_deref().filter(|n| !n.is_empty())
    }
}

/// docs/bridges.md#m10-fields `shop_reply_needed_since`: over the customer-visible messages, when
/// the last one is the customer's and the thread is not closed, the first customer message after
/// the last public employee message. Private notes are not replies. The thread list's
/// `isWaitingForResponse` is exactly `reply_needed_since(..).is_some()`
/// (docs/bridges.md#thread-list-fields).
pub fn reply_needed_since<'a>(status: &str, messages: &'a [MessageRow]) -> Option<&'a MessageRow> {
    if status == "closed" || !last_visible_is_customer(messages) {
        return None;
    }
    // Walk back to the last public reply; the earliest customer message after it wins.
    let mut first = None;
    for m in messages.iter().rev().filter(|m| m.customer_visible()) {
        if m.public_reply() {
            break;
        }
        if m.by_customer() {
            first = Some(m);
        }
    }
    first
}

/// The last customer-visible message, when it is the customer's (docs/bridges.md#m10-fields
/// `no_store_reply_needed`).
pub fn last_visible_customer_message(messages: &[MessageRow]) -> Option<&MessageRow> {
    messages
        .iter()
        .rev()
        .find(|m| m.customer_visible())
        .filter(|m| m.by_customer())
}

fn last_visible_is_customer(messages: &[MessageRow]) -> bool {
    last_visible_customer_message(messages).is_some()
}

/// docs/bridges.md#assignee-and-delegation: walk the public employee messages oldest first; each
/// change of author is a delegation. Returns the owner and the message that delegated the thread to
/// them.
pub fn assignee(messages: &[MessageRow]) -> Option<(u32, &MessageRow)> {
    let mut owner: Option<(u32, &MessageRow)> = None;
    for m in messages.iter().filter(|m| m.public_reply()) {
        if owner.map(|(e, _)| e) != Some(m.id_employee) {
            owner = Some((m.id_employee, m));
        }
    }
    owner
}

/// `"first last"`, trimmed; `None` when both parts are missing or blank.
pub fn full_name(first: Option<&str>, last: Option<&str>) -> Option<String> {
    let name = format!(
        "{} {}",
        first.unwrap_or("").trim(),
        last.unwrap_or("").trim()
    );
    let name = name.trim();
    (!name.is_empty()).then(|| name.to_owned())
}

// --- refusals ---

/// A bridge's error: its status and what its headers say. Each bridge has one such type
/// ([`mirakl_m10::M10Error`], [`thread_list::ListError`]; the change feed's error is one too);
/// `http::json::refuse` writes the response from it in one place.
pub trait Refusal {
    /// `WWW-Authenticate` of the bridge's 401 answers.
    const REALM: &'static str;
    /// `Allow` of the bridge's 405 answers.
    const ALLOW: &'static str;
    fn status(&self) -> u16;
    /// Seconds for `Retry-After` (429, 503).
    fn retry_after(&self) -> Option<u64>;
}

/// How a key failed, in the bridges' terms (each bridge's error is made from one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFailure {
    Wrong,
    NoPermission,
    TooMany(Option<u64>),
    /// The database is unavailable (503 with `Retry-After`).
    Unavailable,
    Internal,
}

impl KeyFailure {
    /// The bridges' reading of a webservice authentication error.
    pub fn of(e: &crate::error::ApiError) -> KeyFailure {
        match e.status {
            429 => KeyFailure::TooMany(e.retry_after),
            _ if e.is_unavailable() => KeyFailure::Unavailable,
            s if s >= 500 => KeyFailure::Internal,
            // 21 alone: an active key without any permission row.
            _ if e.errors.len() == 1 && e.errors[0].code == 21 => KeyFailure::NoPermission,
            _ => KeyFailure::Wrong,
        }
    }
}

/// Why a bridge read failed, in the bridges' terms (each bridge's error is made from one): the
/// database is unavailable (503 with `Retry-After`) or something else (500).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadFailure {
    Unavailable,
    Internal,
}

impl ReadFailure {
    /// The bridges' reading of a database error; any other than an outage (which the pool
    /// logs once per incident) is logged here.
    pub fn of(e: &crate::error::DbError) -> ReadFailure {
        use crate::db::Fault;
        if e.is_unavailable() {
            ReadFailure::Unavailable
        } else {
            tracing::error!(error = %e, "bridge read failed");
            ReadFailure::Internal
        }
    }
}

// --- dates (docs/bridges.md#dates) ---

/// A stored PrestaShop date (`Y-m-d H:i:s`, shop time zone) as a UTC instant. `None` for
/// `0000-00-00 00:00:00`, NULL or anything unparsable. In the hour that occurs twice at the end
/// of DST the earlier instant wins; a time inside the spring-forward gap is moved forward by an
/// hour (chrono-tz `LocalResult::None`), so Paris `2024-03-31 02:30:00` is `01:30:00Z`.
pub fn to_utc(tz: Tz, local: &str) -> Option<DateTime<Utc>> {
    let naive = parse_mysql_datetime(local.trim())?;
    let at = |n: NaiveDateTime| tz.from_local_datetime(&n).earliest();
    at(naive)
        .or_else(|| at(naive + Duration::hours(1)))
        .map(|d| d.with_timezone(&Utc))
}

/// `YYYY-MM-DD HH:MM:SS` as MySQL prints a DATETIME, without chrono's general format parser
/// (the thread list converts every message date of a customer's threads).
fn parse_mysql_datetime(s: &str) -> Option<NaiveDateTime> {
    let b = s.as_bytes();
    if b.len() != 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b' '
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let n = |from: usize, to: usize| -> Option<u32> {
        b[from..to].iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let date = chrono::NaiveDate::from_ymd_opt(n(0, 4)? as i32, n(5, 7)?, n(8, 10)?)?;
    date.and_hms_opt(n(11, 13)?, n(14, 16)?, n(17, 19)?)
}

/// Mirakl's form: `2024-01-15T09:00:00Z` (milliseconds left out, they are always .000).
pub fn mirakl_date(d: DateTime<Utc>) -> String {
    iso_utc(d, "Z")
}

/// myKaarma's `lastMessageOn` form: `2024-01-15T09:00:00.000Z`.
pub fn mykaarma_date(d: DateTime<Utc>) -> String {
    iso_utc(d, ".000Z")
}

/// `YYYY-MM-DDTHH:MM:SS` + `suffix`, what `%Y-%m-%dT%H:%M:%S` gives for the years a MySQL
/// DATETIME holds, without parsing a format string for every date of a response.
fn iso_utc(d: DateTime<Utc>, suffix: &str) -> String {
    use chrono::{Datelike, Timelike};
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{suffix}",
        d.year(),
        d.month(),
        d.day(),
        d.hour(),
        d.minute(),
        d.second()
    )
}

// --- ids (docs/bridges.md#ids) ---

/// The default namespace of the thread list's UUIDv5 ids (a setting's default).
pub use crate::config::DEFAULT_BRIDGE_NAMESPACE as DEFAULT_NAMESPACE;

/// The kinds of row a thread-list UUID can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RowKind {
    Shop,
    Contact,
    Customer,
    Employee,
}

impl RowKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RowKind::Shop => "shop",
            RowKind::Contact => "contact",
            RowKind::Customer => "customer",
            RowKind::Employee => "employee",
        }
    }
}

/// uuid5(namespace, "<entity>:<id>").
pub fn uuid_of(namespace: &Uuid, entity: RowKind, id: u32) -> Uuid {
    Uuid::new_v5(namespace, format!("{}:{}", entity.as_str(), id).as_bytes())
}

/// A reference as a client sends it in a path or body (docs/bridges.md#reading-ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdRef {
    /// A plain decimal (`0`, `42`): a bridge convenience; never confusable with a UUID.
    Decimal(u32),
    Uuid(Uuid),
}

/// Parses a decimal (ASCII digits only, fits in u32) or a UUID in any form the `uuid` crate
/// takes (any case, hyphenated, simple, braced, `urn:uuid:`). `None` for anything else.
pub fn parse_ref(s: &str) -> Option<IdRef> {
    let s = s.trim();
    if !s.is_empty() && s.len() <= 10 && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().ok().map(IdRef::Decimal);
    }
    Uuid::parse_str(s).ok().map(IdRef::Uuid)
}

/// Bytes of an uploaded file, 0 when it cannot be read. The stored name is joined to the
/// upload directory only when it is a plain file name (no separators, no `..`), so a row can
/// never make the service stat a path outside that directory.
pub fn attachment_size(upload_dir: Option<&Path>, file_name: &str) -> u64 {
    let Some(dir) = upload_dir else { return 0 };
    if file_name.is_empty()
        || file_name.contains(['/', '\\', '\0'])
        || file_name == "."
        || file_name == ".."
    {
        return 0;
    }
    std::fs::metadata(dir.join(file_name))
        .ok()
        .filter(|m| m.is_file())
        .map_or(0, |m| m.len())
}

#[cfg(test)]
mod tests {

    #[test]
    fn dates_are_formatted_as_chrono_formats_them_across_the_datetime_range() {
        for (y, mo, d, h, mi, se) in [
            (1000, 1, 1, 0, 0, 0),
            (1970, 1, 1, 0, 0, 0),
            (2024, 2, 29, 23, 59, 59),
            (2024, 10, 27, 1, 5, 9),
            (9999, 12, 31, 23, 59, 59),
        ] {
            let t = Utc.with_ymd_and_hms(y, mo, d, h, mi, se).unwrap();
            assert_eq!(mirakl_date(t), t.format("%Y-%m-%dT%H:%M:%SZ").to_string());
            assert_eq!(
                mykaarma_date(t),
                t.format("%Y-%m-%dT%H:%M:%S.000Z").to_string()
            );
        }
        let t = Utc.with_ymd_and_hms(2024, 3, 5, 7, 8, 9).unwrap();
        assert_eq!(mirakl_date(t), "2024-03-05T07:08:09Z");
        assert_eq!(mykaarma_date(t), "2024-03-05T07:08:09.000Z");
    }

    use super::*;

    fn ns() -> Uuid {
        Uuid::parse_str(DEFAULT_NAMESPACE).unwrap()
    }

    #[test]
    fn namespace_is_uuid5_of_the_documented_url() {
        assert_eq!(
            Uuid::new_v5(&Uuid::NAMESPACE_URL, b"urn:x-prestashop-bridge:v1"),
            ns()
        );
    }

    #[test]
    fn uuid_test_vectors_of_bridges_md_7_2_hold() {
        let cases = [
            (RowKind::Shop, 1, "24babf5c-45fd-596d-8561-2c3d3a5ec6f5"),
            (RowKind::Contact, 0, "43a7f2da-1e65-5bf1-9abb-cbc125de62cf"),
            (RowKind::Contact, 1, "67a6f478-6c37-5292-85a8-10dfbfbf0259"),
            (RowKind::Contact, 2, "7e05fc0d-219a-58cf-841b-337f49b0f467"),
            (RowKind::Customer, 1, "2b6875b0-1087-590d-968c-22de3237ce7c"),
            (RowKind::Customer, 2, "68bf7871-8a9f-5f85-8f61-565c17732a17"),
            (RowKind::Employee, 1, "79670563-585e-52a1-a662-4a80102bcccb"),
        ];
        for (entity, id, expected) in cases {
            assert_eq!(uuid_of(&ns(), entity, id).to_string(), expected);
        }
    }

    #[test]
    fn references_are_decimals_or_uuids_in_any_form() {
        assert_eq!(parse_ref("0"), Some(IdRef::Decimal(0)));
        assert_eq!(parse_ref("42"), Some(IdRef::Decimal(42)));
        assert_eq!(parse_ref("4294967296"), None);
        assert_eq!(parse_ref("-1"), None);
        assert_eq!(parse_ref("1e3"), None);
        assert_eq!(parse_ref(""), None);
        let u = IdRef::Uuid(Uuid::parse_str("2b6875b0-1087-590d-968c-22de3237ce7c").unwrap());
        assert_eq!(parse_ref("2B6875B0-1087-590D-968C-22DE3237CE7C"), Some(u));
        assert_eq!(parse_ref("{2b6875b0-1087-590d-968c-22de3237ce7c}"), Some(u));
        assert_eq!(
            parse_ref("urn:uuid:2b6875b0-1087-590d-968c-22de3237ce7c"),
            Some(u)
        );
        assert_eq!(parse_ref("not-a-uuid"), None);
    }

    #[test]
    fn dates_convert_from_the_shop_zone_with_the_dst_rules_of_section_6() {
        let paris: Tz = "Europe/Paris".parse().unwrap();
        let utc = |s| to_utc(paris, s).map(mirakl_date);
        assert_eq!(
            utc("2024-01-15 10:00:00").as_deref(),
            Some("2024-01-15T09:00:00Z")
        );
        assert_eq!(
            utc("2024-07-01 10:00:00").as_deref(),
            Some("2024-07-01T08:00:00Z")
        );
        // Spring forward: 02:30 does not exist; moved forward by the gap.
        assert_eq!(
            utc("2024-03-31 02:30:00").as_deref(),
            Some("2024-03-31T01:30:00Z")
        );
        // Fall back: 02:30 happens twice; the earlier instant (still CEST).
        assert_eq!(
            utc("2024-10-27 02:30:00").as_deref(),
            Some("2024-10-27T00:30:00Z")
        );
        assert_eq!(
            utc("2024-10-27 03:30:00").as_deref(),
            Some("2024-10-27T02:30:00Z")
        );
        assert_eq!(utc("0000-00-00 00:00:00"), None);
        assert_eq!(
            to_utc(paris, "2024-01-15 10:00:00")
                .map(mykaarma_date)
                .as_deref(),
            Some("2024-01-15T09:00:00.000Z")
        );
    }

    fn msg(id: u32, employee: u32, private: bool) -> MessageRow {
        MessageRow {
            id,
            id_employee: employee,
            private,
            date_add: format!("2024-01-01 00:00:{id:02}"),
            ..MessageRow::default()
        }
    }

    #[test]
    fn reply_is_needed_since_the_first_customer_message_after_the_last_public_reply() {
        let m = [
            msg(1, 0, false),
            msg(2, 1, false),
            msg(3, 0, false),
            msg(4, 1, true),
            msg(5, 0, false),
        ];
        assert_eq!(reply_needed_since("open", &m).map(|m| m.id), Some(3));
        assert_eq!(reply_needed_since("pending1", &m).map(|m| m.id), Some(3));
        assert_eq!(reply_needed_since("closed", &m), None);
        assert_eq!(reply_needed_since("open", &m[..2]), None);
        // A private note last does not answer the customer.
        assert_eq!(reply_needed_since("open", &m[..4]).map(|m| m.id), Some(3));
        assert_eq!(reply_needed_since("open", &m[..1]).map(|m| m.id), Some(1));
        assert_eq!(reply_needed_since("open", &[]), None);
    }

    #[test]
    fn each_change_of_public_author_is_a_delegation() {
        let m = [
            msg(1, 0, false),
            msg(2, 1, false),
            msg(3, 2, true),
            msg(4, 2, false),
            msg(5, 2, false),
            msg(6, 0, false),
        ];
        let (owner, at) = assignee(&m).unwrap();
        assert_eq!((owner, at.id), (2, 4));
        assert_eq!(assignee(&m[..3]).map(|(e, m)| (e, m.id)), Some((1, 2)));
        assert_eq!(assignee(&m[..1]), None);
    }

    #[test]
    fn attachment_names_never_leave_the_upload_directory() {
        let dir = std::env::temp_dir();
        assert_eq!(attachment_size(Some(&dir), "../etc/passwd"), 0);
        assert_eq!(attachment_size(Some(&dir), ".."), 0);
        assert_eq!(attachment_size(None, "a.txt"), 0);
    }
}
