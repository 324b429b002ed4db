//! The bridges' rows read from the database: `db::bridge`'s statements, their text rows turned
//! into [`ThreadRow`]s and [`MessageRow`]s. Runs on a connection the caller holds (inside
//! `db::run`).

use diesel::mysql::MysqlConnection;
use diesel::QueryResult;

use super::{MessageRow, ThreadRow};
use crate::db::bridge::{
    customer_thread_messages_sql, customer_threads_sql, messages_sql, thread_sql,
};
use crate::db::sql::{num, TextRow};
use crate::db::Tables;

fn text(v: &mut Option<String>) -> String {
    v.take().unwrap_or_default()
}

fn to_thread(mut r: TextRow) -> ThreadRow {
    let c = &mut r.0;
    c.resize(16, None);
    ThreadRow {
        id: num(&c[0]),
        id_shop: num(&c[1]),
        id_lang: num(&c[2]),
        id_contact: num(&c[3]),
        id_customer: num(&c[4]),
        id_order: num(&c[5]),
        id_product: num(&c[6]),
        status: text(&mut c[7]),
        email: text(&mut c[8]),
        date_add: text(&mut c[9]),
        date_upd: text(&mut c[10]),
        contact_name: c[11].take(),
        order_reference: c[12].take(),
        product_name: c[13].take(),
        customer_firstname: c[14].take(),
        customer_lastname: c[15].take(),
    }
}

fn to_message(mut r: TextRow) -> MessageRow {
    let c = &mut r.0;
    c.resize(9, None);
    MessageRow {
        id: num(&c[0]),
        thread: num(&c[1]),
        id_employee: num(&c[2]),
        message: text(&mut c[3]),
        file_name: c[4].take(),
        date_add: text(&mut c[5]),
        private: c[6].as_deref().is_some_and(|v| v != "0"),
        employee_firstname: c[7].take(),
        employee_lastname: c[8].take(),
        file_size: 0,
    }
}

/// A thread and its messages: two statements, or one when the thread does not exist.
pub fn thread_with_messages(
    conn: &mut MysqlConnection,
    tables: &Tables,
    id: i64,
) -> QueryResult<Option<(ThreadRow, Vec<MessageRow>)>> {
    let Some(row) = thread_sql(tables, id).load(conn)?.into_iter().next() else {
        return Ok(None);
    };
    let messages = messages_sql(tables, id)
        .load(conn)?
        .into_iter()
        .map(to_message)
        .collect();
    Ok(Some((to_thread(row), messages)))
}

/// A customer's threads in a department, each with its messages (oldest first).
pub fn customer_threads(
    conn: &mut MysqlConnection,
    tables: &Tables,
    customer: u32,
    contact: u32,
) -> QueryResult<Vec<(ThreadRow, Vec<MessageRow>)>> {
    let threads: Vec<ThreadRow> = customer_threads_sql(tables, customer, contact)
        .load(conn)?
        .into_iter()
        .map(to_thread)
        .collect();
    if threads.is_empty() {
        return Ok(Vec::new());
    }
    let mut messages = customer_thread_messages_sql(tables, customer, contact)
        .load(conn)?
        .into_iter()
        .map(to_message)
        .peekable();
    // Both are ordered by thread id: one merge walk.
    let mut out = Vec::with_capacity(threads.len());
    for t in threads {
        let mut mine = Vec::new();
        while let Some(m) = messages.next_if(|m| m.thread <= t.id) {
            if m.thread == t.id {
                mine.push(m);
            }
        }
        out.push((t, mine));
    }
    Ok(out)
}
