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
    full_name, last_visible_customer_message, mirakl_date, reply_needed_since, to_utc, MessageRow,
    ThreadRow,
};

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
    let utc = |s: &str| to_utc(tz, s);
    let created = utc(&thread.date_add)
        .or_else(|| utc(&thread.date_upd))
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    let thread_upd = utc(&thread.date_upd).unwrap_or(created);
    let msg_date = |m: &MessageRow| utc(&m.date_add).unwrap_or(created);

    let shop = Participant {
        display_name: shop_name.to_owned(),
        id: thread.id_shop.to_string(),
        kind: "SHOP",
    };
    let customer_name = full_name(
        thread.customer_firstname.as_deref(),
        thread.customer_lastname.as_deref(),
    )
    .filter(|_| thread.id_customer > 0)
    .unwrap_or_else(|| thread.email.clone());
    let customer = Participant {
        display_name: customer_name.clone(),
        id: if thread.id_customer > 0 {
            thread.id_customer.to_string()
        } else {
            thread.email.clone()
        },
        kind: "CUSTOMER",
    };
    let sender = |m: &MessageRow| -> Sender {
        if m.by_customer() {
            Sender {
                display_name: customer_name.clone(),
                organization_details: None,
                kind: "CUSTOMER_USER",
            }
        } else {
            Sender {
                display_name: full_name(
                    m.employee_firstname.as_deref(),
                    m.employee_lastname.as_deref(),
                )
                .unwrap_or_else(|| shop_name.to_owned()),
                organization_details: Some(shop.clone()),
                kind: "SHOP_USER",
            }
        }
    };

    let returned: Vec<&MessageRow> = messages
        .iter()
        .filter(|m| view == View::All || m.customer_visible())
        .collect();
    let mut customer_involved = false;
    let out: Vec<Message> = returned
        .iter()
        .map(|m| {
            // docs/bridges.md#m10-fields: a customer message goes to the shop, a public reply to
            // the customer, a private note to the shop's own team.
            let to = if m.public_reply() {
                customer.clone()
            } else {
                shop.clone()
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
                date_created: mirakl_date(msg_date(m)),
                from: sender(m),
                id: m.id.to_string(),
                to: vec![to],
            }
        })
        .collect();

    let mut current = Vec::with_capacity(2);
    if !returned.is_empty() {
        current.push(shop.clone());
    }
    if customer_involved {
        current.push(customer.clone());
    }

    let (last_date, last_sender) = match returned.last() {
        Some(m) => (msg_date(m), sender(m)),
        None => (
            created,
            Sender {
                display_name: shop_name.to_owned(),
                organization_details: Some(shop.clone()),
                kind: "SHOP_USER",
            },
        ),
    };
    let updated = returned
        .last()
        .map_or(thread_upd, |m| thread_upd.max(msg_date(m)));

    let no_store_reply_needed = match last_visible_customer_message(messages) {
        Some(m) if thread.status == "closed" => vec![NoStoreReplyNeeded {
            date: mirakl_date(thread_upd.max(msg_date(m))),
            user_type: "SHOP",
        }],
        _ => Vec::new(),
    };

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

    let topic = thread
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

    Thread {
        authorized_participants: vec![shop, customer],
        current_participants: current,
        date_created: mirakl_date(created),
        date_updated: mirakl_date(updated),
        entities,
        id: thread.id.to_string(),
        metadata: Metadata {
            last_message_date: mirakl_date(last_date),
            last_sender,
            shop_reply_needed_since: reply_needed_since(&thread.status, messages)
                .map(|m| mirakl_date(msg_date(m))),
            total_count: out.len() as u32,
        },
        messages: out,
        no_store_reply_needed,
        topic: Topic {
            kind: "FREE_TEXT",
            value: topic,
        },
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
