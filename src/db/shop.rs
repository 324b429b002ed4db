//! The shop's own settings, read once and refreshed in the background, so no request pays a
//! statement for them: shops and their groups, active languages, the `PS_*` configuration
//! values threadgate honours, and the key-store generation (bumped by every key change).

use diesel::mysql::MysqlConnection;
use diesel::QueryResult;

use super::sql::Sql;
use super::Tables;

/// A row of the `shop` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shop {
    pub id: u32,
    pub group: u32,
    pub active: bool,
    pub name: String,
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
    pub languages: Vec<u32>,
    pub config: Vec<ConfigRow>,
    pub key_generation: u64,
}

/// Configuration names threadgate honours.
pub const CONFIG_NAMES: [&str; 5] = [
    "PS_SHOP_NAME",
    "PS_WEBSERVICE",
    "PS_SSL_ENABLED",
    "PS_TIMEZONE",
    "PS_SHOP_DEFAULT",
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

    /// `PS_WEBSERVICE` is not `0` (a fresh database without the row serves).
    pub fn webservice_enabled(&self) -> bool {
        self.config("PS_WEBSERVICE", self.default_shop()) != Some("0")
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

    pub fn active_shops(&self) -> impl Iterator<Item = &Shop> {
        self.shops.iter().filter(|s| s.active)
    }
}

fn parse_u32(v: &Option<String>) -> Option<u32> {
    v.as_deref().and_then(|s| s.parse().ok())
}

/// Reads the snapshot: four statements, run at start-up and on every refresh.
pub fn load(conn: &mut MysqlConnection, tables: &Tables) -> QueryResult<ShopSnapshot> {
    let shops = Sql::new(format!(
        "SELECT CAST(id_shop AS CHAR), CAST(id_shop_group AS CHAR), CAST(active AS CHAR), name FROM {} WHERE deleted = 0 ORDER BY id_shop",
        tables.name("shop")
    ))
    .load(conn)?
    .into_iter()
    .map(|r| Shop {
        id: parse_u32(&r.0[0]).unwrap_or(0),
        group: parse_u32(&r.0[1]).unwrap_or(0),
        active: r.0[2].as_deref() == Some("1"),
        name: r.0[3].clone().unwrap_or_default(),
    })
    .collect();
    let languages = Sql::new(format!(
        "SELECT CAST(id_lang AS CHAR) FROM {} WHERE active = 1 ORDER BY id_lang",
        tables.name("lang")
    ))
    .load(conn)?
    .into_iter()
    .filter_map(|r| parse_u32(&r.0[0]))
    .collect();
    let mut q = Sql::new(format!(
        "SELECT name, CAST(id_shop_group AS CHAR), CAST(id_shop AS CHAR), value FROM {} WHERE name IN (",
        tables.name("configuration")
    ));
    for (i, n) in CONFIG_NAMES.iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.bind_text(*n);
    }
    q.push(") ORDER BY id_configuration");
    let config = q
        .load(conn)?
        .into_iter()
        .map(|r| ConfigRow {
            name: r.0[0].clone().unwrap_or_default(),
            shop_group: parse_u32(&r.0[1]),
            shop: parse_u32(&r.0[2]),
            value: r.0[3].clone(),
        })
        .collect();
    let key_generation = key_generation(conn, tables)?;
    Ok(ShopSnapshot {
        shops,
        languages,
        config,
        key_generation,
    })
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
        .and_then(|r| parse_u32(&r.0[0]).map(u64::from))
        .unwrap_or(0))
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
        assert!(!s.webservice_enabled());
        assert!(snapshot(vec![]).webservice_enabled(), "no row: enabled");
        let bad = snapshot(vec![row("PS_TIMEZONE", None, None, "Mars/Olympus")]);
        assert_eq!(
            bad.timezone(1, chrono_tz::UTC),
            chrono_tz::UTC,
            "an unknown zone falls back"
        );
        assert_eq!(bad.now(chrono_tz::UTC).len(), "2024-01-01 00:00:00".len());
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
