//! Mirakl M10 "Retrieve a thread" (docs/bridges.md#mirakl-m10, docs/bridges.md#m10-fields): the
//! response document, built from a thread row and its messages. Field order is alphabetical, as in
//! Mirakl's own examples; `attachments` is left out when a message has none,
//! `no_store_reply_needed` is always an array, `shop_reply_needed_since` is always present (null
//! when nobody waits), ids are decimal strings (docs/bridges.md#uuid-namespace) and dates UTC with
//! `Z` (docs/bridges.md#dates).

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use super::{
    full_name, last_visible_customer_message, mirakl_date, reply_needed_since, to_utc, KeyFailure,
    MessageRow, ReadFailure, Refusal, ThreadRow,
};
use crate::error::UNAVAILABLE_RETRY_AFTER;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Thread {
    pub authorized_participants: Vec<Participant>,
    pub current_participants: Vec<Participant>,
    pub date_created: String,
    pub date_updated: String,
    pub entities: Vec<EntityRef>,
    pub id: String,
    pub messages: Vec<Message>,
    pub metadata: Metadata,
    pub no_store_reply_needed: Vec<NoStoreReplyNeeded>,
    pub topic: Topic,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Participant {
    pub display_name: String,
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntityRef {
    pub id: String,
    pub label: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachments: Option<Vec<Attachment>>,
    pub body: String,
    pub date_created: String,
    pub from: Sender,
    pub id: String,
    pub to: Vec<Participant>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attachment {
    pub id: String,
    pub name: String,
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sender {
    pub display_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization_details: Option<Participant>,
    #[serde(rename = "type")]
    pub kind: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Metadata {
    pub last_message_date: String,
    pub last_sender: Sender,
    pub shop_reply_needed_since: Option<String>,
    pub total_count: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NoStoreReplyNeeded {
    pub date: String,
    pub user_type: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Topic {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub value: String,
}

/// The M10 error body (docs/bridges.md#m10-errors): `{"status": N, "message": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Error<'a> {
    pub status: u16,
    pub message: &'a str,
}

/// Why an M10 request is refused: the status, the message of the error body and, for a 429,
/// `Retry-After`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct M10Error {
    pub status: u16,
    pub message: &'static str,
    pub retry_after: Option<u64>,
}

impl M10Error {
    pub fn new(status: u16, message: &'static str) -> M10Error {
        M10Error {
            status,
            message,
            retry_after: None,
        }
    }

    pub fn not_found() -> M10Error {
        M10Error::new(404, "Thread not found")
    }

    pub fn internal() -> M10Error {
        M10Error::new(500, "Internal error")
    }

    /// The database is unavailable, or the shop configuration not loaded yet.
    pub fn unavailable() -> M10Error {
        M10Error {
            retry_after: Some(UNAVAILABLE_RETRY_AFTER),
            ..M10Error::new(503, "The database is unavailable, retry later")
        }
    }

    /// The error body (`{"status": N, "message": "..."}`).
    pub fn body(&self) -> Vec<u8> {
        serde_json::to_vec(&Error {
            status: self.status,
            message: self.message,
        })
        .unwrap_or_default()
    }
}

impl Refusal for M10Error {
    const REALM: &'static str = "Basic realm=\"threadgate\"";
    const ALLOW: &'static str = "GET, HEAD";

    fn status(&self) -> u16 {
        self.status
    }

    fn retry_after(&self) -> Option<u64> {
        self.retry_after
    }
}

impl From<KeyFailure> for M10Error {
    fn from(f: KeyFailure) -> M10Error {
        match f {
            KeyFailure::Wrong => M10Error::new(401, "Invalid API key"),
            KeyFailure::NoPermission => {
                M10Error::new(403, "This API key may not read customer threads")
            }
            KeyFailure::TooMany(retry_after) => M10Error {
                retry_after,
                ..M10Error::new(429, "Too many failed authentication attempts, retry later")
            },
            KeyFailure::Unavailable => M10Error::unavailable(),
            KeyFailure::Internal => M10Error::internal(),
        }
    }
}

impl From<ReadFailure> for M10Error {
    fn from(f: ReadFailure) -> M10Error {
        match f {
            ReadFailure::Unavailable => M10Error::unavailable(),
            ReadFailure::Internal => M10Error::internal(),
        }
    }
}

/// Who may read a thread: everything (no `customer_id`), or one customer
/// (docs/bridges.md#the-customer_id-parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View<'a> {
    All,
    Customer(&'a str),
}

/// docs/bridges.md#the-customer_id-parameter: does the thread belong to `customer_id`? The decimal
/// id of a registered customer, or the thread's e-mail (any case) for a guest thread.
pub fn owned_by(thread: &ThreadRow, customer_id: &str) -> bool {
    if thread.id_customer > 0 {
        customer_id == thread.id_customer.to_string()
    } else {
        !thread.email.is_empty() && customer_id.to_lowercase() == thread.email.to_lowercase()
    }
}

/// Builds the M10 document. `messages` are the thread's messages oldest first
/// (docs/bridges.md#message-classification); `shop_name` is the `shop` table's name
/// (docs/bridges.md#decisions); `tz` the shop's time zone. The caller has checked ownership
/// ([`owned_by`]) for a customer view.
pub fn build(
    thread: &ThreadRow,
    messages: &[MessageRow],
    shop_name: &str,
    tz: Tz,
    view: View<'_>,
) -> Thread {
    let ctx = Context::new(thread, shop_name, tz);
    let returned: Vec<&MessageRow> = messages
        .iter()
        .filter(|m| view == View::All || m.customer_visible())
        .collect();
    let (out, customer_involved) = ctx.messages(&returned);
    let mut current = Vec::with_capacity(2);
    if !returned.is_empty() {
        current.push(ctx.shop.clone());
    }
    if customer_involved {
        current.push(ctx.customer.clone());
    }
    let updated = returned
        .last()
        .map_or(ctx.thread_upd, |m| ctx.thread_upd.max(ctx.msg_date(m)));
    Thread {
        current_participants: current,
        date_created: mirakl_date(ctx.created),
        date_updated: mirakl_date(updated),
        entities: entities(thread),
        id: thread.id.to_string(),
        metadata: ctx.metadata(&returned, messages, out.len() as u32),
        messages: out,
        no_store_reply_needed: ctx.no_store_reply_needed(messages),
        topic: topic(thread),
        authorized_participants: vec![ctx.shop, ctx.customer],
    }
}

/// What every part of the document is built from: the thread's dates in UTC and its two
/// participants.
struct Context<'a> {
    thread: &'a ThreadRow,
    shop_name: &'a str,
    tz: Tz,
    created: DateTime<Utc>,
    thread_upd: DateTime<Utc>,
    shop: Participant,
    customer: Participant,
    customer_name: String,
}

impl<'a> Context<'a> {
    /// The dates and the participants: the shop, and the customer (by id, or by e-mail for a
    /// guest).
    fn new(thread: &'a ThreadRow, shop_name: &'a str, tz: Tz) -> Context<'a> {
        let utc = |s: &str| to_utc(tz, s);
        let created = utc(&thread.date_add)
            .or_else(|| utc(&thread.date_upd))
            .unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
        let customer_name = full_name(
            thread.customer_firstname.as_deref(),
            thread.customer_lastname.as_deref(),
        )
        .filter(|_| thread.id_customer > 0)
        .unwrap_or_else(|| thread.email.clone());
        Context {
            thread,
            shop_name,
            tz,
            created,
            thread_upd: utc(&thread.date_upd).unwrap_or(created),
            shop: Participant {
                display_name: shop_name.to_owned(),
                id: thread.id_shop.to_string(),
                kind: "SHOP",
            },
            customer: Participant {
                display_name: customer_name.clone(),
                id: if thread.id_customer > 0 {
                    thread.id_customer.to_string()
                } else {
                    thread.email.clone()
                },
                kind: "CUSTOMER",
            },
            customer_name,
        }
    }

    fn msg_date(&self, m: &MessageRow) -> DateTime<Utc> {
        to_utc(self.tz, &m.date_add).unwrap_or(self.created)
    }

    /// The shop itself as a sender (its employees' messages, or a thread without messages).
    fn shop_user(&self, display_name: String) -> Sender {
        Sender {
            display_name,
            organization_details: Some(self.shop.clone()),
            kind: "SHOP_USER",
        }
    }

    fn sender(&self, m: &MessageRow) -> Sender {
        if m.by_customer() {
            Sender {
                display_name: self.customer_name.clone(),
                organization_details: None,
                kind: "CUSTOMER_USER",
            }
        } else {
            self.shop_user(
                full_name(
                    m.employee_firstname.as_deref(),
                    m.employee_lastname.as_deref(),
                )
                .unwrap_or_else(|| self.shop_name.to_owned()),
            )
        }
    }

    /// The messages returned, and whether the customer took part in them.
    fn messages(&self, returned: &[&MessageRow]) -> (Vec<Message>, bool) {
        let mut customer_involved = false;
        let out = returned
            .iter()
            .map(|m| {
                // docs/bridges.md#m10-fields: a customer message goes to the shop, a public reply
                // to the customer, a private note to the shop's own team.
                let to = if m.public_reply() {
                    self.customer.clone()
                } else {
                    self.shop.clone()
                };
                customer_involved |= m.by_customer() || m.public_reply();
                Message {
                    attachments: m.attachment().map(|name| {
                        vec![Attachment {
                            id: m.id.to_string(),
                            name: name.to_owned(),
                            size: m.file_size,
                        }]
                    }),
                    body: m.message.clone(),
                    date_created: mirakl_date(self.msg_date(m)),
                    from: self.sender(m),
                    id: m.id.to_string(),
                    to: vec![to],
                }
            })
            .collect();
        (out, customer_involved)
    }

    /// The last message's date and sender, and since when a shop reply is needed.
    fn metadata(
        &self,
        returned: &[&MessageRow],
        messages: &[MessageRow],
        total_count: u32,
    ) -> Metadata {
        let (last_date, last_sender) = match returned.last() {
            Some(m) => (self.msg_date(m), self.sender(m)),
            None => (self.created, self.shop_user(self.shop_name.to_owned())),
        };
        Metadata {
            last_message_date: mirakl_date(last_date),
            last_sender,
            shop_reply_needed_since: reply_needed_since(&self.thread.status, messages)
                .map(|m| mirakl_date(self.msg_date(m))),
            total_count,
        }
    }

    fn no_store_reply_needed(&self, messages: &[MessageRow]) -> Vec<NoStoreReplyNeeded> {
        match last_visible_customer_message(messages) {
            Some(m) if self.thread.status == "closed" => vec![NoStoreReplyNeeded {
                date: mirakl_date(self.thread_upd.max(self.msg_date(m))),
                user_type: "SHOP",
            }],
            _ => Vec::new(),
        }
    }
}

/// The thread's order and product.
fn entities(thread: &ThreadRow) -> Vec<EntityRef> {
    let mut entities = Vec::with_capacity(2);
    if thread.id_order > 0 {
        entities.push(EntityRef {
            id: thread.id_order.to_string(),
            label: thread.order_reference.clone().unwrap_or_default(),
            kind: "MMP_ORDER",
        });
    }
    if thread.id_product > 0 {
        entities.push(EntityRef {
            id: thread.id_product.to_string(),
            label: thread.product_name.clone().unwrap_or_default(),
            kind: "MMP_OFFER",
        });
    }
    entities
}

/// The contact's name, else the order's reference, else empty.
fn topic(thread: &ThreadRow) -> Topic {
    let value = thread
        .contact_name
        .clone()
        .filter(|_| thread.id_contact > 0)
        .or_else(|| {
            thread
                .order_reference
                .clone()
                .filter(|_| thread.id_order > 0)
        })
        .unwrap_or_default();
    Topic {
        kind: "FREE_TEXT",
        value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn thread() -> ThreadRow {
        ThreadRow {
            id: 7,
            id_shop: 1,
            id_lang: 1,
            id_contact: 2,
            id_customer: 2,
            status: "open".into(),
            email: "pub@prestashop.com".into(),
            date_add: "2024-01-15 10:00:00".into(),
            date_upd: "2024-01-15 10:00:00".into(),
            contact_name: Some("Customer service".into()),
            customer_firstname: Some("John".into()),
            customer_lastname: Some("DOE".into()),
            ..ThreadRow::default()
        }
    }

    fn msg(id: u32, employee: u32, private: bool, at: &str) -> MessageRow {
        MessageRow {
            id,
            thread: 7,
            id_employee: employee,
            message: format!("m{id}"),
            date_add: at.into(),
            private,
            employee_firstname: Some("Ada".into()),
            employee_lastname: Some("Admin".into()),
            ..MessageRow::default()
        }
    }

    #[test]
    fn a_customer_view_hides_private_notes_and_recomputes_participants_and_metadata() {
        let msgs = [
            msg(1, 0, false, "2024-01-15 10:00:00"),
            msg(2, 1, true, "2024-01-15 11:00:00"),
        ];
        let all = build(&thread(), &msgs, "Demo shop", Tz::UTC, View::All);
        assert_eq!(all.metadata.total_count, 2);
        assert_eq!(all.metadata.last_sender.kind, "SHOP_USER");
        assert_eq!(all.messages[1].to[0].kind, "SHOP");
        let mine = build(&thread(), &msgs, "Demo shop", Tz::UTC, View::Customer("2"));
        assert_eq!(mine.metadata.total_count, 1);
        assert_eq!(mine.metadata.last_sender.kind, "CUSTOMER_USER");
        assert_eq!(mine.date_updated, "2024-01-15T10:00:00Z");
        assert_eq!(
            mine.metadata.shop_reply_needed_since.as_deref(),
            Some("2024-01-15T10:00:00Z")
        );
        assert_eq!(mine.current_participants.len(), 2);
    }

    #[test]
    fn only_a_note_involves_only_the_shop() {
        let msgs = [msg(2, 1, true, "2024-01-15 11:00:00")];
        let t = build(&thread(), &msgs, "Demo shop", Tz::UTC, View::All);
        assert_eq!(t.current_participants.len(), 1);
        assert_eq!(t.current_participants[0].kind, "SHOP");
        let empty = build(&thread(), &msgs, "Demo shop", Tz::UTC, View::Customer("2"));
        assert!(empty.current_participants.is_empty());
        assert_eq!(empty.metadata.last_sender.kind, "SHOP_USER");
        assert_eq!(empty.metadata.last_message_date, "2024-01-15T10:00:00Z");
    }

    #[test]
    fn ownership_is_the_decimal_id_or_the_guest_email() {
        let mut t = thread();
        assert!(owned_by(&t, "2"));
        assert!(!owned_by(&t, "02"));
        assert!(!owned_by(&t, "pub@prestashop.com"));
        t.id_customer = 0;
        assert!(owned_by(&t, "PUB@prestashop.com"));
        assert!(!owned_by(&t, "0"));
    }
}
