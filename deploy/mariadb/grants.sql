-- The database account `threadgate serve` runs with: exactly the rights it needs, no more
-- (docs/deploy.md, "The database account"). Run it as the database's administrator AFTER
-- `threadgate migrate` (MariaDB and MySQL refuse a table-level GRANT on a table that does
-- not exist yet).
--
-- Replace before running:  `shop`       the shop's database name
--                          ps_          the shop's table prefix (THREADGATE_TABLE_PREFIX)
--                          'threadgate'@'localhost' and the password: the account
-- `threadgate migrate` and every `threadgate keys ...` command run with the administrator's
-- DATABASE_URL, never with this account. So does `threadgate tune --apply` / `--revert`
-- (docs/tuning.md): adding or dropping threadgate's indexes on ps_customer_thread and
-- ps_customer_message needs ALTER on those tables (MariaDB's ALTER TABLE also checks CREATE
-- and INSERT), which this account is not given, on purpose.
-- tests/api/deploy.rs runs the whole API through an account made by this very file.

CREATE USER IF NOT EXISTS 'threadgate'@'localhost' IDENTIFIED BY 'change-me';

-- Shop tables threadgate only reads: the shop's configuration, shops and languages (the
-- snapshot), and the names the bridges and the webservice join in.
GRANT SELECT ON `shop`.`ps_configuration` TO 'threadgate'@'localhost';
GRANT SELECT ON `shop`.`ps_shop` TO 'threadgate'@'localhost';
GRANT SELECT ON `shop`.`ps_shop_url` TO 'threadgate'@'localhost';
GRANT SELECT ON `shop`.`ps_lang` TO 'threadgate'@'localhost';
GRANT SELECT ON `shop`.`ps_contact` TO 'threadgate'@'localhost';
GRANT SELECT ON `shop`.`ps_contact_lang` TO 'threadgate'@'localhost';
GRANT SELECT ON `shop`.`ps_customer` TO 'threadgate'@'localhost';
GRANT SELECT ON `shop`.`ps_employee` TO 'threadgate'@'localhost';
GRANT SELECT ON `shop`.`ps_orders` TO 'threadgate'@'localhost';
GRANT SELECT ON `shop`.`ps_product_lang` TO 'threadgate'@'localhost';

-- The two resources threadgate serves: read and written (POST, PUT, PATCH, DELETE).
GRANT SELECT, INSERT, UPDATE, DELETE ON `shop`.`ps_customer_thread` TO 'threadgate'@'localhost';
GRANT SELECT, INSERT, UPDATE, DELETE ON `shop`.`ps_customer_message` TO 'threadgate'@'localhost';

-- threadgate's own key store: read on every authentication; the server writes only when a key
-- was last used (`last_used`, once a minute at most). Keys are created and changed by
-- `threadgate keys` with the administrator's account.
GRANT SELECT ON `shop`.`ps_threadgate_key_permission` TO 'threadgate'@'localhost';
GRANT SELECT ON `shop`.`ps_threadgate_key_shop` TO 'threadgate'@'localhost';
GRANT SELECT ON `shop`.`ps_threadgate_state` TO 'threadgate'@'localhost';
GRANT SELECT, UPDATE (`writes`) ON `shop`.`ps_threadgate_data_generation` TO 'threadgate'@'localhost';
GRANT SELECT, UPDATE (`last_used`) ON `shop`.`ps_threadgate_key` TO 'threadgate'@'localhost';

-- Only with THREADGATE_AUTH_SOURCE=prestashop (keys read from the shop's own tables):
-- GRANT SELECT ON `shop`.`ps_webservice_account` TO 'threadgate'@'localhost';
-- GRANT SELECT ON `shop`.`ps_webservice_permission` TO 'threadgate'@'localhost';
-- GRANT SELECT ON `shop`.`ps_webservice_account_shop` TO 'threadgate'@'localhost';
