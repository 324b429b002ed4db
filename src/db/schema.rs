//! Which shop a database holds, before `migrate` adds anything to it.
//!
//! The migrations create PrestaShop's tables only when they are missing, which is right for a
//! fresh database and for a shop under the configured prefix, but wrong for a shop under
//! another prefix: a mistyped `THREADGATE_TABLE_PREFIX` would create a second, empty shop
//! schema inside the live database. [`check_prefix`] looks at `information_schema` first and
//! refuses that case (see README, "Running in front of an existing shop").
//!
//! Also here: [`describe_url`], the parts of a database URL an operator may see (never the
//! password).

use diesel::mysql::MysqlConnection;
use diesel::QueryResult;

use super::sql::Sql;

/// The tables whose presence under a prefix means "a PrestaShop shop uses this prefix": every
/// PrestaShop installation has them, and threadgate reads all three.
pub const MARKERS: [&str; 3] = ["configuration", "customer_thread", "shop"];

/// Tables whose name alone gives a shop's prefix away: no other PrestaShop table ends with
/// these names (many end with `shop` or `lang`: `ps_lang_shop`, `ps_contact_lang`).
pub const TELLING: [&str; 3] = ["configuration", "customer_thread", "customer_message"];

/// What the database holds, as far as the prefix check cares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Found {
    /// Prefixes under which all of [`MARKERS`] exist, sorted.
    pub shops: Vec<String>,
    /// Prefixes under which one of [`TELLING`] exists (a partial shop counts), sorted.
    pub partial: Vec<String>,
}

/// Scans the current database's tables for PrestaShop's, under any prefix.
pub fn scan(conn: &mut MysqlConnection) -> QueryResult<Found> {
    let names: Vec<String> = Sql::new(
        "SELECT CAST(table_name AS CHAR) FROM information_schema.tables WHERE table_schema = DATABASE()",
    )
    .load(conn)?
    .into_iter()
    .filter_map(|r| r.0[0].clone())
    .collect();
    Ok(classify(&names))
}

/// [`scan`] on a list of table names (pure, for unit tests).
pub fn classify(names: &[String]) -> Found {
    let mut found = Found::default();
    for name in names {
        for table in TELLING {
            let Some(prefix) = name.strip_suffix(table) else {
                continue;
            };
            // Only prefixes a shop could use (threadgate accepts letters, digits and `_`).
            if !prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
            {
                continue;
            }
            if !found.partial.iter().any(|p| p == prefix) {
                found.partial.push(prefix.to_owned());
            }
        }
    }
    found.partial.sort();
    found.shops = found
        .partial
        .iter()
        .filter(|p| {
            MARKERS
                .iter()
                .all(|m| names.iter().any(|n| *n == format!("{p}{m}")))
        })
        .cloned()
        .collect();
    found
}

/// `Err(message)` when migrating under `prefix` would create a second shop schema next to
/// an existing one: the database holds a shop (or shop tables) under other prefixes and none
/// under this one. A database without any shop table, or with the shop under `prefix`, is fine.
pub fn check_prefix(found: &Found, prefix: &str) -> Result<(), String> {
    if found.shops.iter().any(|p| p == prefix) || found.partial.iter().any(|p| p == prefix) {
        return Ok(());
    }
    let others = if found.shops.is_empty() {
        &found.partial
    } else {
        &found.shops
    };
    if others.is_empty() {
        return Ok(());
    }
    let shown: Vec<String> = others.iter().map(|p| show(p)).collect();
    let what = if found.shops.is_empty() {
        "some PrestaShop tables"
    } else {
        "a PrestaShop shop"
    };
    let (noun, list) = if shown.len() == 1 {
        ("prefix", shown[0].clone())
    } else {
        ("prefixes", shown.join(", "))
    };
    let first = &others[0];
    Err(format!(
        "refusing to migrate: this database holds {what} under the {noun} {list} but no shop \
         table under {given}; migrating would create a second, empty shop schema next to it.\n\
         If the shop's prefix is {first_shown}, run again with THREADGATE_TABLE_PREFIX={first} \
         (or --table-prefix {first}); migrate then only adds threadgate's own tables.\n\
         To create a new, empty shop schema under {given} in this database anyway, run \
         `threadgate migrate --create-shop-schema`.",
        given = show(prefix),
        first_shown = show(first),
    ))
}

fn show(prefix: &str) -> String {
    if prefix.is_empty() {
        "'' (no prefix)".to_owned()
    } else {
        format!("'{prefix}'")
    }
}

/// `host 127.0.0.1, port 3306, database shop, user tg` for a MySQL URL (or `socket ...` for
/// `unix_socket=`), for error messages: never the password.
pub fn describe_url(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    // The last `@` ends the user information (an unencoded password may hold `/`, `?` or `@`).
    let (user, rest) = match rest.rsplit_once('@') {
        Some((userinfo, r)) => (userinfo.split(':').next().unwrap_or(""), r),
        None => ("", rest),
    };
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (host_port, database) = rest.split_once('/').unwrap_or((rest, ""));
    // `[v6]:port` keeps its brackets; a port is the digits after the last `:` past them.
    let after_brackets = host_port.find(']').map_or(0, |i| i + 1);
    let (host, port) = match host_port[after_brackets..].rfind(':') {
        Some(i) => {
            let (h, p) = host_port.split_at(after_brackets + i);
            (h, &p[1..])
        }
        None => (host_port, "3306"),
    };
    let socket = form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "unix_socket")
        .map(|(_, v)| v.into_owned());
    let decode = |s: &str| {
        form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map_or_else(String::new, |(_, v)| v.into_owned())
    };
    let mut out = match socket {
        Some(s) if host == "localhost" => format!("socket {s}"),
        _ => format!(
            "host {}, port {port}",
            if host.is_empty() { "localhost" } else { host }
        ),
    };
    out.push_str(&format!(
        ", database {}",
        if database.is_empty() {
            "(none)".to_owned()
        } else {
            decode(database)
        }
    ));
    if !user.is_empty() {
        out.push_str(&format!(", user {}", decode(user)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_shop_under_another_prefix_is_found_and_refused() {
        let found = classify(&names(&[
            "shop8_configuration",
            "shop8_customer_thread",
            "shop8_shop",
            "x",
        ]));
        assert_eq!(found.shops, ["shop8_"]);
        assert!(check_prefix(&found, "shop8_").is_ok());
        let refusal = check_prefix(&found, "ps_").unwrap_err();
        assert!(
            refusal.starts_with("refusing to migrate: this database holds a PrestaShop shop under the prefix 'shop8_' but no shop table under 'ps_'"),
            "{refusal}"
        );
    }

    #[test]
    fn an_empty_database_or_the_right_prefix_migrates() {
        assert!(check_prefix(&classify(&[]), "ps_").is_ok());
        let found = classify(&names(&["ps_customer_message", "ps_lang_shop"]));
        assert_eq!(found.partial, ["ps_"]);
        assert!(found.shops.is_empty());
        assert!(
            check_prefix(&found, "ps_").is_ok(),
            "a partial shop under the prefix"
        );
        assert!(
            check_prefix(&found, "b_").is_err(),
            "shop tables elsewhere only"
        );
    }

    #[test]
    fn no_prefix_is_a_prefix_too() {
        let found = classify(&names(&["configuration", "customer_thread", "shop"]));
        assert_eq!(found.shops, [""]);
        assert!(check_prefix(&found, "ps_")
            .unwrap_err()
            .contains("under the prefix '' (no prefix)"));
    }

    #[test]
    fn database_urls_are_described_without_the_password() {
        assert_eq!(
            describe_url("mysql://tg:s3cret@db.example:3307/shop"),
            "host db.example, port 3307, database shop, user tg"
        );
        assert_eq!(
            describe_url("mysql://root@localhost/shop?unix_socket=/run/my%20sql.sock"),
            "socket /run/my sql.sock, database shop, user root"
        );
        assert_eq!(
            describe_url("mysql://127.0.0.1/"),
            "host 127.0.0.1, port 3306, database (none)"
        );
        assert!(!describe_url("mysql://u:p%40ss@h/d").contains("ss"));
        assert_eq!(
            describe_url("mysql://u@[::1]:3310/d"),
            "host [::1], port 3310, database d, user u"
        );
    }
}
