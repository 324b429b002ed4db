//! The event log's pure parts (docs/events.md): what an event is, the change feed's opaque
//! cursor, an event as the feed's JSON, the fields a write changed, and the watcher's
//! bookkeeping of ids it has not seen yet ([`watch`]).
//!
//! No actix and no connection here: `db::events` reads and writes the table,
//! `http::changes` serves the feed, `http::write` appends the events of threadgate's writes.

pub mod watch;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Map, Value};

/// The six kinds of events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    ThreadCreated,
    ThreadUpdated,
    ThreadDeleted,
    MessageCreated,
    MessageUpdated,
    MessageDeleted,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::ThreadCreated => "thread.created",
            Kind::ThreadUpdated => "thread.updated",
            Kind::ThreadDeleted => "thread.deleted",
            Kind::MessageCreated => "message.created",
            Kind::MessageUpdated => "message.updated",
            Kind::MessageDeleted => "message.deleted",
        }
    }
}

/// Who made the change: threadgate's API (with the key's id) or anything else (`shop`: the
/// shop's front office, its Back Office, SQL), found by the watcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Api { key: u32 },
    Shop,
}

/// An event to append; `created_at` and `id` are given by the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub kind: Kind,
    pub thread: u32,
    pub message: Option<u32>,
    pub shop: u32,
    pub source: Source,
    /// A JSON object, or none.
    pub data: Option<String>,
}

/// A stored event, as the table holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub id: u64,
    /// `thread.created`, ... (the `type` column).
    pub kind: String,
    pub id_customer_thread: u32,
    pub id_customer_message: Option<u32>,
    pub id_shop: u32,
    /// `api` or `shop`.
    pub source: String,
    pub id_key: Option<u32>,
    pub data: Option<String>,
    /// UTC, `YYYY-MM-DD HH:MM:SS.ffffff` as the database returns a `DATETIME(6)`.
    pub created_at: String,
}

impl Event {
    /// The event as the change feed and `events tail --json` show it.
    pub fn to_json(&self) -> Value {
        let data = self
            .data
            .as_deref()
            .and_then(|d| serde_json::from_str::<Value>(d).ok())
            .filter(Value::is_object)
            .unwrap_or_else(|| Value::Object(Map::new()));
        json!({
            "id": self.id,
            "type": self.kind,
            "created_at": iso_utc(&self.created_at),
            "id_shop": self.id_shop,
            "id_customer_thread": self.id_customer_thread,
            "id_customer_message": self.id_customer_message,
            "source": self.source,
            "id_key": self.id_key,
            "data": data,
        })
    }
}

impl Event {
    /// The event as `events tail` prints it for a person: id, time, type, ids, source, data.
    pub fn to_line(&self) -> String {
        let mut line = format!(
            "#{} {} {:<15} shop={} thread={}",
            self.id,
            iso_utc(&self.created_at),
            self.kind,
            self.id_shop,
            self.id_customer_thread
        );
        if let Some(m) = self.id_customer_message {
            line.push_str(&format!(" message={m}"));
        }
        match self.id_key {
            Some(k) => line.push_str(&format!(" source={} key={k}", self.source)),
            None => line.push_str(&format!(" source={}", self.source)),
        }
        if let Some(d) = &self.data {
            line.push(' ');
            line.push_str(d);
        }
        line
    }
}

/// `2026-12-06 18:04:30.123456` → `2026-12-06T18:04:30.123456Z`.
pub fn iso_utc(db: &str) -> String {
    let mut s = db.replacen(' ', "T", 1);
    if !s.contains('.') {
        s.push_str(".000000");
    }
    s.push('Z');
    s
}

/// Which events a reader may see: the resources its key may GET, and its shops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub threads: bool,
    pub messages: bool,
    /// `None`: every shop (the operator's `events tail`).
    pub shops: Option<Vec<u32>>,
}

impl Filter {
    pub fn everything() -> Filter {
        Filter {
            threads: true,
            messages: true,
            shops: None,
        }
    }
}

/// The cursor's version byte: a later format can be told apart (and refused clearly).
const CURSOR_VERSION: u8 = 1;

/// The opaque cursor of the change feed: base64url (no padding) of a version byte and the
/// last event id read, big-endian. Event ids are never reused, so a cursor stays valid across
/// restarts and on every node.
pub fn encode_cursor(last_id: u64) -> String {
    let mut bytes = [0u8; 9];
    bytes[0] = CURSOR_VERSION;
    bytes[1..].copy_from_slice(&last_id.to_be_bytes());
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The last event id a cursor names, or `None` when it is not one of ours.
pub fn decode_cursor(cursor: &str) -> Option<u64> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor.as_bytes()).ok()?;
    if bytes.len() != 9 || bytes[0] != CURSOR_VERSION {
        return None;
    }
    let mut id = [0u8; 8];
    id.copy_from_slice(&bytes[1..]);
    Some(u64::from_be_bytes(id))
}

/// The names of the fields whose values differ between two versions of a row (`names[i]`
/// names `before[i]` and `after[i]`; index 0, the id, is skipped).
pub fn changed_fields(
    names: &[&'static str],
    before: &[Option<String>],
    after: &[Option<String>],
) -> Vec<&'static str> {
    names
        .iter()
        .enumerate()
        .skip(1)
        .filter(|(i, _)| before.get(*i) != after.get(*i))
        .map(|(_, n)| *n)
        .collect()
}

/// `data` of a `message.created`: what the e-mail worker needs to decide on a customer e-mail.
pub fn message_created_data(id_employee: u64, private: bool, notify_customer: bool) -> String {
    json!({
        "id_employee": id_employee,
        "private": u8::from(private),
        "notify_customer": notify_customer,
    })
    .to_string()
}

/// `data` of a `thread.created` or `thread.updated`: the changed fields (updates only), and
/// the thread's `status` and `date_upd` after the change, which the watcher compares with
/// what it finds to never report a change twice.
pub fn thread_data(changed: Option<&[&str]>, status: &str, date_upd: &str) -> String {
    let mut m = Map::new();
    if let Some(c) = changed {
        m.insert("changed".into(), json!(c));
    }
    m.insert("status".into(), json!(status));
    m.insert("date_upd".into(), json!(date_upd));
    Value::Object(m).to_string()
}

/// `data` of a `message.updated`.
pub fn changed_data(changed: &[&str]) -> String {
    json!({ "changed": changed }).to_string()
}

/// The `status` and `date_upd` a thread event recorded.
pub fn thread_marks(data: Option<&str>) -> Option<(String, String)> {
    let v: Value = serde_json::from_str(data?).ok()?;
    Some((
        v.get("status")?.as_str()?.to_owned(),
        v.get("date_upd")?.as_str()?.to_owned(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_what_is_not_ours() {
        for id in [0, 1, 10_000, u64::MAX] {
            assert_eq!(decode_cursor(&encode_cursor(id)), Some(id));
        }
        assert_eq!(encode_cursor(1), "AQAAAAAAAAAB");
        assert_eq!(decode_cursor(""), None);
        assert_eq!(decode_cursor("AQAAAAAAAAA"), None);
        assert_eq!(decode_cursor("AgAAAAAAAAAB"), None, "unknown version");
        assert_eq!(decode_cursor("AQAAAAAAAAAB=="), None);
        assert_eq!(decode_cursor("12"), None);
    }

    #[test]
    fn changed_fields_skip_the_id_and_name_what_differs() {
        let s = |v: &str| Some(v.to_owned());
        let names = ["id", "status", "email", "date_upd"];
        let before = [s("1"), s("open"), s("a@b.c"), s("2024-01-01 00:00:00")];
        let after = [s("1"), s("closed"), s("a@b.c"), s("2024-01-02 00:00:00")];
        assert_eq!(
            changed_fields(&names, &before, &after),
            ["status", "date_upd"]
        );
        assert!(changed_fields(&names, &before, &before).is_empty());
    }

    #[test]
    fn data_documents_have_their_fixed_shapes() {
        assert_eq!(
            message_created_data(1, false, true),
            r#"{"id_employee":1,"notify_customer":true,"private":0}"#
        );
        assert_eq!(
            thread_data(Some(&["status"]), "closed", "2024-01-02 00:00:00"),
            r#"{"changed":["status"],"date_upd":"2024-01-02 00:00:00","status":"closed"}"#
        );
        assert_eq!(
            thread_marks(Some(&thread_data(None, "open", "2024-01-02 00:00:00"))),
            Some(("open".into(), "2024-01-02 00:00:00".into()))
        );
        assert_eq!(thread_marks(Some("{}")), None);
        assert_eq!(thread_marks(None), None);
    }

    #[test]
    fn events_are_shown_with_iso_times_and_object_data() {
        let e = Event {
            id: 7,
            kind: "message.created".into(),
            id_customer_thread: 1,
            id_customer_message: Some(4),
            id_shop: 1,
            source: "api".into(),
            id_key: Some(2),
            data: Some(message_created_data(0, false, true)),
            created_at: "2026-12-06 18:04:30.123456".into(),
        };
        assert_eq!(
            e.to_json(),
            json!({"id": 7, "type": "message.created", "created_at": "2026-12-06T18:04:30.123456Z",
                   "id_shop": 1, "id_customer_thread": 1, "id_customer_message": 4,
                   "source": "api", "id_key": 2,
                   "data": {"id_employee": 0, "private": 0, "notify_customer": true}})
        );
        let bare = Event {
            data: None,
            id_customer_message: None,
            id_key: None,
            ..e.clone()
        };
        assert_eq!(
            e.to_line(),
            "#7 2026-12-06T18:04:30.123456Z message.created shop=1 thread=1 message=4 source=api key=2 \
             {\"id_employee\":0,\"notify_customer\":true,\"private\":0}"
        );
        assert_eq!(bare.to_json()["data"], json!({}));
        assert_eq!(bare.to_json()["id_key"], Value::Null);
    }
}
