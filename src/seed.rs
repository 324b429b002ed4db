//! Demo and benchmark data.
//!
//! `demo` writes a small shop whose first rows are exactly the examples of
//! docs/prestashop/documents.md#examples and #json, so the tests can compare the golden
//! documents (`tests/fixtures/golden/`) byte for byte. `bulk` writes N threads with M messages
//! each for the benchmark, in batches, with MariaDB's SEQUENCE engine. Both only add rows that
//! are missing (`INSERT IGNORE` on fixed ids).

use diesel::connection::SimpleConnection;
use diesel::mysql::MysqlConnection;
use diesel::QueryResult;

use crate::db::Tables;

const DEMO: &str = r#"
INSERT IGNORE INTO `ps_shop` (`id_shop`, `id_shop_group`, `name`, `color`, `id_category`, `theme_name`, `active`, `deleted`) VALUES
  (1, 1, 'Demo shop', '', 2, 'classic', 1, 0);
INSERT IGNORE INTO `ps_shop_url` (`id_shop_url`, `id_shop`, `domain`, `domain_ssl`, `physical_uri`, `virtual_uri`, `main`, `active`) VALUES
  (1, 1, 'localhost', 'localhost', '/', '', 1, 1);
INSERT IGNORE INTO `ps_lang` (`id_lang`, `name`, `active`, `iso_code`, `language_code`, `locale`, `date_format_lite`, `date_format_full`, `is_rtl`) VALUES
  (1, 'English (English)', 1, 'en', 'en-us', 'en-US', 'm/d/Y', 'm/d/Y H:i:s', 0),
  (2, 'Français (French)', 1, 'fr', 'fr-fr', 'fr-FR', 'd/m/Y', 'd/m/Y H:i:s', 0);
INSERT IGNORE INTO `ps_configuration` (`id_configuration`, `id_shop_group`, `id_shop`, `name`, `value`, `date_add`, `date_upd`) VALUES
  (1, NULL, NULL, 'PS_SHOP_NAME', 'Demo shop', '2024-01-01 00:00:00', '2024-01-01 00:00:00'),
  (2, NULL, NULL, 'PS_WEBSERVICE', '1', '2024-01-01 00:00:00', '2024-01-01 00:00:00'),
  (3, NULL, NULL, 'PS_SHOP_DEFAULT', '1', '2024-01-01 00:00:00', '2024-01-01 00:00:00'),
  (4, NULL, NULL, 'PS_TIMEZONE', 'Europe/Paris', '2024-01-01 00:00:00', '2024-01-01 00:00:00');
INSERT IGNORE INTO `ps_contact` (`id_contact`, `email`, `customer_service`, `position`) VALUES
  (1, 'webmaster@example.com', 1, 0),
  (2, 'support@example.com', 1, 1);
INSERT IGNORE INTO `ps_contact_lang` (`id_contact`, `id_lang`, `name`, `description`) VALUES
  (1, 1, 'Webmaster', 'If a technical problem occurs on this website'),
  (1, 2, 'Webmaster', 'Si un problème technique survient sur ce site'),
  (2, 1, 'Customer service', 'For any question about a product, an order'),
  (2, 2, 'Service client', 'Pour toute question sur un produit, une commande');
INSERT IGNORE INTO `ps_customer` (`id_customer`, `id_shop_group`, `id_shop`, `id_lang`, `firstname`, `lastname`, `email`, `is_guest`, `active`, `deleted`, `date_add`, `date_upd`) VALUES
  (2, 1, 1, 1, 'John', 'DOE', 'pub@prestashop.com', 0, 1, 0, '2023-12-01 08:00:00', '2023-12-01 08:00:00'),
  (3, 1, 1, 2, 'Marie', 'Curie', 'marie@example.com', 0, 1, 0, '2023-12-02 08:00:00', '2023-12-02 08:00:00');
INSERT IGNORE INTO `ps_employee` (`id_employee`, `id_profile`, `id_lang`, `lastname`, `firstname`, `email`, `active`) VALUES
  (1, 1, 1, 'Admin', 'Ada', 'admin@example.com', 1);
INSERT IGNORE INTO `ps_orders` (`id_order`, `reference`, `id_shop_group`, `id_shop`, `id_customer`, `id_lang`, `date_add`, `date_upd`) VALUES
  (5, 'XKBKNABJK', 1, 1, 2, 1, '2024-01-14 18:00:00', '2024-01-14 18:00:00');
INSERT IGNORE INTO `ps_product_lang` (`id_product`, `id_shop`, `id_lang`, `description`, `description_short`, `link_rewrite`, `name`) VALUES
  (1, 1, 1, '', '', 'hummingbird-printed-t-shirt', 'Hummingbird printed t-shirt'),
  (1, 1, 2, '', '', 't-shirt-imprime-colibri', 'T-shirt imprimé colibri');
INSERT IGNORE INTO `ps_customer_thread` (`id_customer_thread`, `id_shop`, `id_lang`, `id_contact`, `id_customer`, `id_order`, `id_product`, `status`, `email`, `token`, `date_add`, `date_upd`) VALUES
  (1, 1, 1, 2, 2, 5, 0, 'open', 'pub@prestashop.com', 'aBcD1234eFgH', '2024-01-15 10:00:00', '2024-01-16 11:30:00'),
  (2, 1, 1, 1, NULL, 0, 0, 'closed', 'guest@example.com', NULL, '2024-02-01 09:00:00', '2024-02-01 09:00:00'),
  (3, 1, 2, 2, 3, 0, 1, 'pending1', 'marie@example.com', 'Zx9Yw8Vu7Ts6', '2024-03-10 14:05:00', '2024-03-11 09:15:00');
INSERT IGNORE INTO `ps_customer_message` (`id_customer_message`, `id_customer_thread`, `id_employee`, `message`, `file_name`, `ip_address`, `user_agent`, `date_add`, `date_upd`, `private`, `read`) VALUES
  (1, 1, 0, 'Hello <b>world</b>\nline2', NULL, '2130706433', 'Mozilla/5.0', '2024-01-15 10:00:00', '2024-01-15 10:00:00', 0, 1),
  (2, 3, 0, 'Bonjour, le t-shirt existe-t-il en XL ?', NULL, '3232235777', 'Mozilla/5.0 (X11; Linux x86_64)', '2024-03-10 14:05:00', '2024-03-10 14:05:00', 0, 0),
  (3, 1, 1, 'Your order ships tomorrow.', NULL, NULL, NULL, '2024-01-16 11:30:00', '2024-01-16 11:30:00', 0, 1);
"#;

/// The demo shop (idempotent).
pub fn demo(conn: &mut MysqlConnection, tables: &Tables) -> QueryResult<()> {
    conn.batch_execute(&crate::db::migrations::apply_prefix(DEMO, &tables.prefix))
}

/// `threads` threads (ids after the current maximum) with `messages` messages each, for the
/// benchmark: 1 000 customers, both contacts, all four statuses, dates a minute apart.
pub fn bulk(
    conn: &mut MysqlConnection,
    tables: &Tables,
    threads: u64,
    messages: u32,
) -> QueryResult<()> {
    const BATCH: u64 = 100_000;
    let t = tables.name("customer_thread");
    let m = tables.name("customer_message");
    let mut done = 0;
    while done < threads {
        let n = BATCH.min(threads - done);
        // The batch's threads are those above the maximum id before it (auto-increment may
        // leave gaps between and inside batches, so "the last n ids" would not be exact).
        let before: i64 = crate::db::sql::Sql::new(format!(
            "SELECT CAST(COALESCE(MAX(id_customer_thread), 0) AS CHAR) FROM {t}"
        ))
        .load(conn)?
        .first()
        .and_then(|r| r.0[0].as_deref().and_then(|v| v.parse().ok()))
        .unwrap_or(0);
        conn.batch_execute(&format!(
            "INSERT INTO {t} (id_shop, id_lang, id_contact, id_customer, id_order, id_product, status, email, token, date_add, date_upd)
             SELECT 1, 1, 1 + seq % 2, 1 + seq % 1000, IF(seq % 3 = 0, seq % 5000, 0), IF(seq % 7 = 0, 1, 0),
                    ELT(1 + seq % 4, 'open', 'closed', 'pending1', 'pending2'),
                    CONCAT('customer', 1 + seq % 1000, '@example.com'), LEFT(MD5(seq), 12),
                    TIMESTAMP('2024-01-01 00:00:00') + INTERVAL seq MINUTE,
                    TIMESTAMP('2024-01-01 00:00:00') + INTERVAL (seq + seq % 90) MINUTE
             FROM seq_{from}_to_{to};",
            from = done + 1,
            to = done + n,
        ))?;
        if messages > 0 {
            conn.batch_execute(&format!(
                "INSERT INTO {m} (id_customer_thread, id_employee, message, file_name, ip_address, user_agent, date_add, date_upd, private, `read`)
                 SELECT t.id_customer_thread, IF(s.seq % 2 = 0, 1, 0), CONCAT('Message ', s.seq, ' of thread ', t.id_customer_thread, ': is my order on its way?'),
                        NULL, '2130706433', 'bench', t.date_add + INTERVAL s.seq MINUTE, t.date_add + INTERVAL s.seq MINUTE, 0, 0
                 FROM {t} t JOIN seq_1_to_{messages} s
                 WHERE t.id_customer_thread > {before};"
            ))?;
        }
        done += n;
    }
    Ok(())
}
