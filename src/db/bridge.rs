//! The bridges' statements (docs/bridges.md, "Reads"), on the same pool, `Tables` and [`Sql`]
//! rows as the webservice's (`bridge::reads` turns their rows into the bridges' rows): one
//! statement for a thread with its names joined (contact, order, product, customer), one for
//! its messages with the employees' names joined, whatever the message count. The thread list
//! reads a customer's threads in a department with one statement and all their messages with a
//! second one. Every statement has a fixed shape and keeps its prepared statement.

use diesel::mysql::MysqlConnection;
use diesel::QueryResult;

use super::sql::{num, Sql};
use super::Tables;

fn thread_columns() -> &'static str {
    "CAST(t.id_customer_thread AS CHAR), CAST(t.id_shop AS CHAR), CAST(t.id_lang AS CHAR), \
     CAST(t.id_contact AS CHAR), CAST(IFNULL(t.id_customer, 0) AS CHAR), \
     CAST(IFNULL(t.id_order, 0) AS CHAR), CAST(IFNULL(t.id_product, 0) AS CHAR), \
     CAST(t.status AS CHAR), t.email, CAST(t.date_add AS CHAR), CAST(t.date_upd AS CHAR)"
}

/// The statement for one thread and the names M10 shows.
pub fn thread_sql(tables: &Tables, id: i64) -> Sql {
    let mut q = Sql::new(format!(
        "SELECT {cols}, cl.name, o.reference, pl.name, c.firstname, c.lastname \
         FROM {t} t \
         LEFT JOIN {cl} cl ON cl.id_contact = t.id_contact AND cl.id_lang = t.id_lang \
         LEFT JOIN {o} o ON o.id_order = t.id_order \
         LEFT JOIN {pl} pl ON pl.id_product = t.id_product AND pl.id_lang = t.id_lang AND pl.id_shop = t.id_shop \
         LEFT JOIN {c} c ON c.id_customer = t.id_customer \
         WHERE t.id_customer_thread = ",
        cols = thread_columns(),
        t = tables.name("customer_thread"),
        cl = tables.name("contact_lang"),
        o = tables.name("orders"),
        pl = tables.name("product_lang"),
        c = tables.name("customer"),
    ))
    .cached();
    q.bind_int(id);
    q
}

/// The statement for a thread's messages, oldest first (docs/bridges.md#message-classification),
/// with the employees' names.
pub fn messages_sql(tables: &Tables, thread: i64) -> Sql {
    let mut q = Sql::new(format!(
        "SELECT CAST(m.id_customer_message AS CHAR), CAST(m.id_customer_thread AS CHAR), \
         CAST(IFNULL(m.id_employee, 0) AS CHAR), m.message, m.file_name, CAST(m.date_add AS CHAR), \
         CAST(m.private AS CHAR), e.firstname, e.lastname \
         FROM {m} m LEFT JOIN {e} e ON e.id_employee = m.id_employee \
         WHERE m.id_customer_thread = ",
        m = tables.name("customer_message"),
        e = tables.name("employee"),
    ))
    .cached();
    q.bind_int(thread)
        .push(" ORDER BY m.date_add, m.id_customer_message");
    q
}

/// ` AND t.id_contact + 0 = `: a shop has a handful of contacts, so the `id_contact` index
/// matches a large share of all threads, yet MariaDB intersects it with the `id_customer`
/// index (`index_merge`, seen with EXPLAIN) and so reads every entry of that contact: with the
/// benchmark's two contacts, half of all threads. The expression keeps `id_contact` out of index
/// selection without naming an index a live shop might lack.
const CONTACT_FILTER: &str = " AND t.id_contact + 0 = ";

/// The statement for a customer's threads in one department (contact), by id.
pub fn customer_threads_sql(tables: &Tables, customer: u32, contact: u32) -> Sql {
    let mut q = Sql::new(format!(
        "SELECT {cols} FROM {t} t WHERE t.id_customer = ",
        cols = thread_columns(),
        t = tables.name("customer_thread"),
    ))
    .cached();
    q.bind_int(customer.into())
        .push(CONTACT_FILTER)
        .bind_int(contact.into())
        .push(" ORDER BY t.id_customer_thread");
    q
}

/// The statement for the messages of those threads: only what the list derives from (author,
/// visibility, date), ordered by thread, then oldest first.
pub fn customer_thread_messages_sql(tables: &Tables, customer: u32, contact: u32) -> Sql {
    let mut q = Sql::new(format!(
        "SELECT CAST(m.id_customer_message AS CHAR), CAST(m.id_customer_thread AS CHAR), \
         CAST(IFNULL(m.id_employee, 0) AS CHAR), NULL, NULL, CAST(m.date_add AS CHAR), \
         CAST(m.private AS CHAR), NULL, NULL \
         FROM {t} t JOIN {m} m ON m.id_customer_thread = t.id_customer_thread \
         WHERE t.id_customer = ",
        t = tables.name("customer_thread"),
        m = tables.name("customer_message"),
    ))
    .cached();
    q.bind_int(customer.into())
        .push(CONTACT_FILTER)
        .bind_int(contact.into())
        .push(" ORDER BY m.id_customer_thread, m.date_add, m.id_customer_message");
    q
}

/// Which of (customer, contact, employee) exist, in one statement; `None` skips a check.
pub fn exist(
    conn: &mut MysqlConnection,
    tables: &Tables,
    customer: u32,
    contact: Option<u32>,
    employee: Option<u32>,
) -> QueryResult<(bool, bool, bool)> {
    let mut q = Sql::new(format!(
        "SELECT CAST(EXISTS(SELECT 1 FROM {c} WHERE id_customer = ",
        c = tables.name("customer")
    ))
    .cached();
    q.bind_int(customer.into())
        .push(&format!(
            ") AS CHAR), CAST(EXISTS(SELECT 1 FROM {} WHERE id_contact = ",
            tables.name("contact")
        ))
        .bind_int(contact.map_or(-1, i64::from))
        .push(&format!(
            ") AS CHAR), CAST(EXISTS(SELECT 1 FROM {} WHERE id_employee = ",
            tables.name("employee")
        ))
        .bind_int(employee.map_or(-1, i64::from))
        .push(") AS CHAR)");
    let row = q.load(conn)?.into_iter().next();
    let flag = |i: usize| {
        row.as_ref()
            .and_then(|r| r.0.get(i).cloned().flatten())
            .as_deref()
            == Some("1")
    };
    Ok((
        flag(0),
        contact.is_none() || flag(1),
        employee.is_none() || flag(2),
    ))
}

/// Ids of `table` (primary key `column`) above `after`, ascending: what a UUID index needs to
/// learn new rows.
pub fn ids_after(
    conn: &mut MysqlConnection,
    tables: &Tables,
    table: &str,
    column: &str,
    after: u32,
) -> QueryResult<Vec<u32>> {
    let mut q = Sql::new(format!(
        "SELECT CAST({column} AS CHAR) FROM {} WHERE {column} > ",
        tables.name(table)
    ))
    .cached();
    q.bind_int(after.into())
        .push(&format!(" ORDER BY {column}"));
    Ok(q.load(conn)?.iter().map(|r| num(&r.0[0])).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::sql::Bind;

    #[test]
    fn a_thread_is_one_statement_with_its_names_joined() {
        let q = thread_sql(&Tables::new("ps_"), 7);
        assert!(q.cacheable);
        assert_eq!(q.binds, vec![Bind::Int(7)]);
        for join in [
            "LEFT JOIN `ps_contact_lang` cl ON cl.id_contact = t.id_contact AND cl.id_lang = t.id_lang",
            "LEFT JOIN `ps_orders` o ON o.id_order = t.id_order",
            "LEFT JOIN `ps_product_lang` pl ON pl.id_product = t.id_product AND pl.id_lang = t.id_lang AND pl.id_shop = t.id_shop",
            "LEFT JOIN `ps_customer` c ON c.id_customer = t.id_customer",
        ] {
            assert!(q.text.contains(join), "{join}");
        }
        assert!(q.text.ends_with("WHERE t.id_customer_thread = ?"));
    }

    #[test]
    fn messages_are_one_statement_oldest_first_with_employee_names() {
        let q = messages_sql(&Tables::new("shop_"), 7);
        assert!(q
            .text
            .contains("FROM `shop_customer_message` m LEFT JOIN `shop_employee` e"));
        assert!(q.text.ends_with(
            "WHERE m.id_customer_thread = ? ORDER BY m.date_add, m.id_customer_message"
        ));
    }

    #[test]
    fn the_list_binds_customer_and_department() {
        let t = Tables::new("ps_");
        for q in [
            customer_threads_sql(&t, 2, 0),
            customer_thread_messages_sql(&t, 2, 0),
        ] {
            assert_eq!(q.binds, vec![Bind::Int(2), Bind::Int(0)]);
            assert!(q.cacheable);
        }
    }
}
