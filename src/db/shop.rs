//! The shop's own settings, read once and refreshed in the background, so no request pays a
//! statement for them: shops and their groups, their URLs (`shop_url`), active languages, the
//! `PS_*` configuration values threadgate honours, and the key-store generation (bumped by every
//! key change).

use diesel::mysql::MysqlConnection;
use diesel::QueryResult;

use super::sql::{num, opt, Sql};
use super::Tables;

/// A row of the `shop` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shop {
    pub id: u32,
    pub group: u32,
    pub active: bool,
    pub name: String,
}

/// A `shop_url` row of an active, not deleted shop: what `Shop::findShopByHost` (PrestaShop 8,
/// `classes/shop/Shop.php`) selects from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopUrl {
    pub shop: u32,
    pub domain: String,
    pub domain_ssl: String,
    /// `physical_uri` followed by `virtual_uri` (`Shop::getBaseURI`), e.g. `/` or `/fr/`.
    pub uri: String,
    pub main: bool,
}

/// The shop a request without `id_shop` runs in, and the base URI its `xlink:href`s use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestShop {
    pub shop: u32,
    /// The matched `shop_url` URI when the request's path starts with it (`/` otherwise): the
    /// part of the path before `api/`, and of every `xlink:href` after the host.
    pub base_uri: String,
}

/// A `configuration` row for one of the names threadgate reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigRow {
    pub name: String,
    pub shop_group: Option<u32>,
    pub shop: Option<u32>,
    pub value: Option<String>,
}

/// Everything threadgate reads from the shop outside the resources themselves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShopSnapshot {
    pub shops: Vec<Shop>,
    /// In `findShopByHost`'s order: longest URI first (then by `id_shop_url`).
    pub urls: Vec<ShopUrl>,
    pub languages: Vec<u32>,
    pub config: Vec<ConfigRow>,
    pub key_generation: u64,
}

/// Which of a shop's names [`ShopSnapshot::shop_name`] reads first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameFirst {
    /// `PS_SHOP_NAME` (the customer's e-mail).
    Configuration,
    /// The `shop` table's `name` (M10's shop display name, docs/bridges.md#decisions).
    ShopRow,
}

/// Configuration names threadgate honours.
pub const CONFIG_NAMES: [&str; 6] = [
    "PS_SHOP_NAME",
    "PS_WEBSERVICE",
    "PS_SSL_ENABLED",
    "PS_TIMEZONE",
    "PS_SHOP_DEFAULT",
    "PS_VERSION_DB",
];

impl ShopSnapshot {
    /// PrestaShop's `Configuration::get` resolution (docs/compatibility.md W28): the shop's own
    /// row, else its group's, else the global one.
    pub fn config(&self, name: &str, shop: u32) -> Option<&str> {
        let group = self.shops.iter().find(|s| s.id == shop).map(|s| s.group);
        let rows = || self.config.iter().filter(|r| r.name == name);
        let nonzero = |v: Option<u32>| v.filter(|&x| x != 0);
        rows()
            .find(|r| nonzero(r.shop) == Some(shop))
            .or_else(|| {
                rows().find(|r| {
                    nonzero(r.shop).is_none() && group.is_some() && nonzero(r.shop_group) == group
                })
            })
            .or_else(|| {
                rows().find(|r| nonzero(r.shop).is_none() && nonzero(r.shop_group).is_none())
            })
            .and_then(|r| r.value.as_deref())
    }

    /// The shop's name, from one of its two sources, `first` first, else the other: its
    /// `PS_SHOP_NAME` (resolved as [`ShopSnapshot::config`]) and its `shop` row's `name`.
    /// `None` when neither has one.
    pub fn shop_name(&self, shop: u32, first: NameFirst) -> Option<&str> {
        let row = || {
            self.shops
                .iter()
                .find(|s| s.id == shop)
                .map(|s| s.name.as_str())
        };
        let configured = || self.config("PS_SHOP_NAME", shop);
        match first {
            NameFirst::Configuration => configured().or_else(row),
            NameFirst::ShopRow => row().or_else(configured),
        }
    }

    /// `PS_WEBSERVICE` of `shop` is not `0` (a fresh database without the row serves).
    pub fn webservice_enabled(&self, shop: u32) -> bool {
        self.config("PS_WEBSERVICE", shop) != Some("0")
    }

    /// The shop's time zone (docs/compatibility.md W17): its `PS_TIMEZONE` (shop, group, global),
    /// else `fallback` (the service setting).
    pub fn timezone(&self, shop: u32, fallback: chrono_tz::Tz) -> chrono_tz::Tz {
        self.config("PS_TIMEZONE", shop)
            .and_then(|z| z.trim().parse().ok())
            .unwrap_or(fallback)
    }

    /// "Now" in the default shop's time zone, as PrestaShop writes dates (`Y-m-d H:i:s`).
    pub fn now(&self, fallback: chrono_tz::Tz) -> String {
        chrono::Utc::now()
            .with_timezone(&self.timezone(self.default_shop(), fallback))
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    }

    /// The shop a request without `id_shop` runs in: `PS_SHOP_DEFAULT`, else the first active
    /// shop, else 1.
    pub fn default_shop(&self) -> u32 {
        self.config
            .iter()
            .find(|r| r.name == "PS_SHOP_DEFAULT" && r.shop.unwrap_or(0) == 0)
            .and_then(|r| r.value.as_deref())
            .and_then(|v| v.trim().parse().ok())
            .or_else(|| self.shops.iter().find(|s| s.active).map(|s| s.id))
            .unwrap_or(1)
    }

    /// The version PrestaShop's installer or upgrader wrote (`PS_VERSION_DB`, global row), for
    /// the start-up line.
    pub fn prestashop_version(&self) -> Option<&str> {
        self.config
            .iter()
            .find(|r| r.name == "PS_VERSION_DB" && r.shop.unwrap_or(0) == 0)
            .and_then(|r| r.value.as_deref())
    }

    pub fn active_shops(&self) -> impl Iterator<Item = &Shop> {
        self.shops.iter().filter(|s| s.active)
    }

    /// The shop of a request without `id_shop`, from its host and path, as PrestaShop 8's
    /// `Shop::initialize` finds it (`classes/shop/Shop.php`), documented in
    /// docs/compatibility.md ("The shop of a request"):
    ///
    /// - `host` is `Tools::getHttpHost`'s: `X-Forwarded-Host` when the request has one, else
    ///   `Host`. It is first tried without its port (cut at the first `:` that is not the
    ///   first character), then, when no row matched, as it is.
    /// - A row matches when its `domain` **or** its `domain_ssl` equals the host (either
    ///   column, whatever the scheme, as `findShopByHost`'s `WHERE`), compared as MySQL's `_ci`
    ///   collation does for ASCII (case and trailing spaces ignored). Only rows of active, not
    ///   deleted shops count; the row's own `active` flag is not read (PrestaShop does not).
    /// - Rows are tried longest URI first; the first whose URI starts the (percent-decoded)
    ///   path, ASCII case ignored (`preg_match('#^uri#i')`), gives the shop. A matching row that
    ///   is not its shop's main URL makes PrestaShop redirect to the main URL, which serves
    ///   the same shop: threadgate serves that shop directly.
    /// - When rows match the host but none matches the path (a proxy that removed the shop's
    ///   base URI before threadgate), the shop of the first matching row that is a main URL;
    ///   PrestaShop would redirect to the default shop, which the request could not have
    ///   reached this way.
    /// - Otherwise the default shop ([`ShopSnapshot::default_shop`]), where PrestaShop's
    ///   redirect for an unknown host leads.
    pub fn shop_for_request<'a>(&self, host: &'a str, path: &str) -> RequestShop {
        let fallback = || RequestShop {
            shop: self.default_shop(),
            base_uri: "/".into(),
        };
        let without_port = match host.find(':') {
            Some(i) if i > 0 => &host[..i],
            _ => host,
        };
        let on = |h: &'a str| {
            move |u: &&ShopUrl| same_domain(&u.domain, h) || same_domain(&u.domain_ssl, h)
        };
        let host = if self.urls.iter().any(|u| on(without_port)(&u)) {
            without_port
        } else {
            host
        };
        let rows = || self.urls.iter().filter(on(host));
        if let Some(row) = rows().find(|u| {
            path.as_bytes()
                .get(..u.uri.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(u.uri.as_bytes()))
        }) {
            return RequestShop {
                shop: row.shop,
                base_uri: if row.uri.is_empty() {
                    "/".into()
                } else {
                    row.uri.clone()
                },
            };
        }
        match rows().find(|u| u.main) {
            Some(row) => RequestShop {
                shop: row.shop,
                base_uri: "/".into(),
            },
            None => fallback(),
        }
    }
}

/// MySQL `_ci` equality for host names: ASCII case and trailing spaces ignored.
fn same_domain(column: &str, host: &str) -> bool {
    let column = column.trim_end_matches(' ');
    let host = host.trim_end_matches(' ');
    column.eq_ignore_ascii_case(host)
}

/// Reads the snapshot: five statements, run at start-up and on every refresh.
pub fn load(conn: &mut MysqlConnection, tables: &Tables) -> QueryResult<ShopSnapshot> {
    load_with(conn, tables, &[])
}

/// [`load`], with the configuration values named in `extra` read too, by the same statement
/// (the delivery worker's mail settings, `db::delivery::MAIL_CONFIG_NAMES`).
pub fn load_with(
    conn: &mut MysqlConnection,
    tables: &Tables,
    extra: &[&str],
) -> QueryResult<ShopSnapshot> {
    let shops = Sql::new(format!(
        "SELECT CAST(id_shop AS CHAR), CAST(id_shop_group AS CHAR), CAST(active AS CHAR), name FROM {} WHERE deleted = 0 ORDER BY id_shop",
        tables.name("shop")
    ))
    .load(conn)?
    .into_iter()
    .map(|r| Shop {
        id: num(&r.0[0]),
        group: num(&r.0[1]),
        active: r.0[2].as_deref() == Some("1"),
        name: r.0[3].clone().unwrap_or_default(),
    })
    .collect();
    // `Shop::findShopByHost`'s rows for every host at once, in its order (longest URI first).
    let urls = Sql::new(format!(
        "SELECT CAST(su.id_shop AS CHAR), su.domain, su.domain_ssl, CONCAT(su.physical_uri, su.virtual_uri), CAST(su.main AS CHAR) \
         FROM {} su JOIN {} s ON s.id_shop = su.id_shop WHERE s.active = 1 AND s.deleted = 0 \
         ORDER BY LENGTH(CONCAT(su.physical_uri, su.virtual_uri)) DESC, su.id_shop_url",
        tables.name("shop_url"),
        tables.name("shop")
    ))
    .load(conn)?
    .into_iter()
    .map(|r| ShopUrl {
        shop: num(&r.0[0]),
        domain: r.0[1].clone().unwrap_or_default(),
        domain_ssl: r.0[2].clone().unwrap_or_default(),
        uri: r.0[3].clone().unwrap_or_default(),
        main: r.0[4].as_deref() == Some("1"),
    })
    .collect();
    let languages = Sql::new(format!(
        "SELECT CAST(id_lang AS CHAR) FROM {} WHERE active = 1 ORDER BY id_lang",
        tables.name("lang")
    ))
    .load(conn)?
    .into_iter()
    .filter_map(|r| opt(&r.0[0]))
    .collect();
    let config = config_rows(conn, tables, CONFIG_NAMES.iter().chain(extra).copied())?;
    let key_generation = key_generation(conn, tables)?;
    Ok(ShopSnapshot {
        shops,
        urls,
        languages,
        config,
        key_generation,
    })
}

/// Every row (the shops', the groups' and the global one) of the configuration values named,
/// in PrestaShop's order (`id_configuration`), for [`ShopSnapshot::config`]'s resolution.
pub fn config_rows<'a>(
    conn: &mut MysqlConnection,
    tables: &Tables,
    names: impl IntoIterator<Item = &'a str>,
) -> QueryResult<Vec<ConfigRow>> {
    let mut unique: Vec<&str> = Vec::new();
    for n in names {
        if !unique.contains(&n) {
            unique.push(n);
        }
    }
    let mut q = Sql::new(format!(
        "SELECT name, CAST(id_shop_group AS CHAR), CAST(id_shop AS CHAR), value FROM {} WHERE name IN ",
        tables.name("configuration")
    ));
    q.bind_text_list(unique).push(" ORDER BY id_configuration");
    Ok(q.load(conn)?
        .into_iter()
        .map(|r| ConfigRow {
            name: r.0[0].clone().unwrap_or_default(),
            shop_group: opt(&r.0[1]),
            shop: opt(&r.0[2]),
            value: r.0[3].clone(),
        })
        .collect())
}

/// The tables a server needs under its prefix: the shop's own (configuration, shops,
/// languages, threads, messages) and threadgate's state (created by `threadgate migrate`): the
/// key poll's statement reads the data generation's counters and the event log's highest id.
pub const REQUIRED_TABLES: [&str; 9] = [
    "configuration",
    "shop",
    "lang",
    "customer_thread",
    "customer_message",
    "threadgate_state",
    "threadgate_data_generation",
    "threadgate_event",
    "threadgate_event_state",
];

/// Which of [`REQUIRED_TABLES`] are missing under the prefix, in one statement (`/readyz`).
pub fn missing_tables(
    conn: &mut MysqlConnection,
    tables: &Tables,
) -> QueryResult<Vec<&'static str>> {
    let mut q = Sql::new(
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (",
    );
    for (i, t) in REQUIRED_TABLES.iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.bind_text(format!("{}{t}", tables.prefix));
    }
    q.push(")");
    let found: Vec<String> = q
        .cached()
        .load(conn)?
        .into_iter()
        .filter_map(|r| r.0[0].clone())
        .collect();
    Ok(REQUIRED_TABLES
        .iter()
        .copied()
        .filter(|t| !found.iter().any(|f| *f == format!("{}{t}", tables.prefix)))
        .collect())
}

/// The key store's generation counter.
pub fn key_generation(conn: &mut MysqlConnection, tables: &Tables) -> QueryResult<u64> {
    let rows = Sql::new(format!(
        "SELECT CAST(key_generation AS CHAR) FROM {} WHERE id = 1",
        tables.name("threadgate_state")
    ))
    // Fixed shape, and the key poll runs it 4 times a second: keep it prepared.
    .cached()
    .load(conn)?;
    Ok(rows
        .first()
        .and_then(|r| opt::<u32>(&r.0[0]).map(u64::from))
        .unwrap_or(0))
}

/// The thread tables' generation as a SQL expression: the sum of the write counters' slots
/// (bumped by writes that log no event) plus the event log's highest id (every write that logs
/// events moves it, and so does the watcher's log of an outside change); when the retention
/// purge has emptied the log, its mark, so the sum never goes back (docs/architecture.md,
/// "Several nodes, one truth").
pub fn data_generation_sql(tables: &Tables) -> String {
    format!(
        "(SELECT CAST(SUM(`writes`) + (SELECT GREATEST(COALESCE((SELECT MAX(id) FROM {e}), 0), \
         purged_through) FROM {s} WHERE id = 2) AS CHAR) FROM {g})",
        e = tables.name("threadgate_event"),
        s = tables.name("threadgate_event_state"),
        g = tables.name("threadgate_data_generation")
    )
}

/// The key store's and the thread tables' generations, in one statement (the key poll's).
pub fn generations(conn: &mut MysqlConnection, tables: &Tables) -> QueryResult<(u64, u64)> {
    let rows = Sql::new(format!(
        "SELECT CAST(key_generation AS CHAR), {} FROM {} WHERE id = 1",
        data_generation_sql(tables),
        tables.name("threadgate_state")
    ))
    .cached()
    .load(conn)?;
    let number = |i: usize| rows.first().map_or(0, |r| num::<u64>(&r.0[i]));
    Ok((number(0), number(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, group: Option<u32>, shop: Option<u32>, value: &str) -> ConfigRow {
        ConfigRow {
            name: name.into(),
            shop_group: group,
            shop,
            value: Some(value.into()),
        }
    }

    fn snapshot(config: Vec<ConfigRow>) -> ShopSnapshot {
        ShopSnapshot {
            shops: vec![
                Shop {
                    id: 1,
                    group: 1,
                    active: true,
                    name: "A".into(),
                },
                Shop {
                    id: 2,
                    group: 2,
                    active: true,
                    name: "B".into(),
                },
                Shop {
                    id: 3,
                    group: 2,
                    active: true,
                    name: "C".into(),
                },
            ],
            config,
            ..ShopSnapshot::default()
        }
    }

    #[test]
    fn configuration_prefers_shop_then_group_then_global() {
        let s = snapshot(vec![
            row("PS_SHOP_NAME", None, None, "global"),
            row("PS_SHOP_NAME", Some(2), None, "group 2"),
            row("PS_SHOP_NAME", Some(2), Some(3), "shop 3"),
        ]);
        assert_eq!(s.config("PS_SHOP_NAME", 1), Some("global"));
        assert_eq!(s.config("PS_SHOP_NAME", 2), Some("group 2"));
        assert_eq!(s.config("PS_SHOP_NAME", 3), Some("shop 3"));
        assert_eq!(s.config("PS_TIMEZONE", 3), None);
    }

    #[test]
    fn a_shop_name_comes_from_either_source_in_the_order_asked() {
        let s = snapshot(vec![row("PS_SHOP_NAME", Some(2), None, "group 2")]);
        assert_eq!(s.shop_name(3, NameFirst::Configuration), Some("group 2"));
        assert_eq!(s.shop_name(3, NameFirst::ShopRow), Some("C"));
        assert_eq!(s.shop_name(1, NameFirst::Configuration), Some("A"));
        assert_eq!(s.shop_name(9, NameFirst::ShopRow), None);
        let global = snapshot(vec![row("PS_SHOP_NAME", None, None, "global")]);
        assert_eq!(
            global.shop_name(9, NameFirst::ShopRow),
            Some("global"),
            "no shop row: the configuration"
        );
    }

    #[test]
    fn time_zone_and_webservice_flag_come_from_the_configuration_with_fallbacks() {
        let s = snapshot(vec![
            row("PS_TIMEZONE", Some(2), None, " America/New_York "),
            row("PS_WEBSERVICE", None, None, "0"),
        ]);
        assert_eq!(s.timezone(3, chrono_tz::UTC), chrono_tz::America::New_York);
        assert_eq!(
            s.timezone(1, chrono_tz::Europe::Paris),
            chrono_tz::Europe::Paris
        );
        assert!(!s.webservice_enabled(1));
        assert!(snapshot(vec![]).webservice_enabled(1), "no row: enabled");
        let bad = snapshot(vec![row("PS_TIMEZONE", None, None, "Mars/Olympus")]);
        assert_eq!(
            bad.timezone(1, chrono_tz::UTC),
            chrono_tz::UTC,
            "an unknown zone falls back"
        );
        assert_eq!(bad.now(chrono_tz::UTC).len(), "2024-01-01 00:00:00".len());
    }

    fn url(shop: u32, domain: &str, domain_ssl: &str, uri: &str, main: bool) -> ShopUrl {
        ShopUrl {
            shop,
            domain: domain.into(),
            domain_ssl: domain_ssl.into(),
            uri: uri.into(),
            main,
        }
    }

    /// Three shops: 1 on `localhost` and as an alias on `shops.test`; 2 on `second.test`
    /// (`secure.second.test` over HTTPS); 3 on `third.test/boutique/` and `shops.test/third/`.
    fn multistore() -> ShopSnapshot {
        let mut s = snapshot(vec![row("PS_SHOP_DEFAULT", None, None, "1")]);
        // Longest URI first, as `load` orders them.
        s.urls = vec![
            url(3, "third.test", "third.test", "/boutique/", true),
            url(3, "shops.test", "shops.test", "/third/", false),
            url(1, "localhost", "localhost", "/", true),
            url(2, "second.test", "secure.second.test", "/", true),
            url(1, "shops.test", "shops.test", "/", false),
        ];
        s
    }

    fn shop_of(host: &str, path: &str) -> (u32, String) {
        let r = multistore().shop_for_request(host, path);
        (r.shop, r.base_uri)
    }

    #[test]
    fn the_host_picks_the_shop_by_domain_or_ssl_domain_without_port_and_case() {
        for host in [
            "second.test",
            "second.test:8080",
            "SECOND.Test",
            "secure.second.test",
            "secure.second.test:443",
        ] {
            assert_eq!(
                shop_of(host, "/api/customer_threads"),
                (2, "/".into()),
                "{host}"
            );
        }
        assert_eq!(shop_of("localhost:8080", "/api/"), (1, "/".into()));
    }

    #[test]
    fn the_longest_uri_that_starts_the_path_wins() {
        assert_eq!(shop_of("shops.test", "/third/api/x"), (3, "/third/".into()));
        assert_eq!(shop_of("shops.test", "/THIRD/api/x"), (3, "/third/".into()));
        assert_eq!(shop_of("shops.test", "/api/x"), (1, "/".into()));
        assert_eq!(
            shop_of("third.test", "/boutique/api/x"),
            (3, "/boutique/".into())
        );
    }

    #[test]
    fn a_host_whose_uris_miss_the_path_is_its_main_urls_shop() {
        assert_eq!(shop_of("third.test", "/api/x"), (3, "/".into()));
    }

    #[test]
    fn an_unknown_host_is_the_default_shop() {
        for host in [
            "example.com",
            "",
            ":second.test",
            "second.test.evil",
            "second",
        ] {
            assert_eq!(shop_of(host, "/api/"), (1, "/".into()), "{host}");
        }
        let mut s = multistore();
        s.config = vec![row("PS_SHOP_DEFAULT", None, None, "2")];
        assert_eq!(s.shop_for_request("nowhere", "/api/").shop, 2);
    }

    #[test]
    fn the_port_is_kept_when_nothing_matches_without_it() {
        let mut s = multistore();
        s.urls
            .push(url(2, "ported.test:8443", "ported.test:8443", "/", true));
        assert_eq!(s.shop_for_request("ported.test:8443", "/api/").shop, 2);
        assert_eq!(s.shop_for_request("ported.test:9999", "/api/").shop, 1);
    }

    #[test]
    fn default_shop_comes_from_ps_shop_default() {
        assert_eq!(
            snapshot(vec![row("PS_SHOP_DEFAULT", None, None, "2")]).default_shop(),
            2
        );
        assert_eq!(snapshot(vec![]).default_shop(), 1);
    }
}
