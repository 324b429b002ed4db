//! SQL of threadgate's own key store (`threadgate_key`, `_permission`, `_shop`, `_state`).
//! Hashing and verification live in `auth`; this module only moves rows.

use diesel::connection::Connection;
use diesel::mysql::MysqlConnection;
use diesel::QueryResult;

use super::sql::{num, opt, Sql};
use super::Tables;
use crate::resource::Method;

/// A stored key: its argon2id hash and flags, never the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRow {
    pub id: u32,
    pub hash: String,
    pub active: bool,
}

/// What a key may do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    pub permissions: Vec<(String, Method)>,
    pub shops: Vec<u32>,
}

/// A key to insert.
pub struct NewKey<'a> {
    pub lookup: &'a str,
    pub hash: &'a str,
    pub description: &'a str,
    pub active: bool,
    pub grants: &'a Grants,
    /// `Y-m-d H:i:s` in the shop's time zone.
    pub now: &'a str,
    /// The shop's `id_webservice_account` it was imported from.
    pub source_account: Option<u32>,
}

/// A key as `keys list` shows it (never the key, never the hash).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KeyInfo {
    pub id: u32,
    pub description: String,
    pub active: bool,
    pub permissions: Vec<(String, String)>,
    pub shops: Vec<u32>,
    pub created: String,
    pub last_used: Option<String>,
    pub imported_from: Option<u32>,
}

/// A row of the shop's `webservice_account` with its grants (the key in plain text, as
/// PrestaShop keeps it; it is hashed before threadgate stores anything).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrestashopAccount {
    pub id: u32,
    pub key: String,
    pub description: String,
    pub active: bool,
    pub grants: Grants,
}

/// Keys whose lookup bucket matches.
pub fn candidates(
    conn: &mut MysqlConnection,
    tables: &Tables,
    lookup: &str,
) -> QueryResult<Vec<KeyRow>> {
    let mut q = Sql::new(format!(
        "SELECT CAST(id_key AS CHAR), hash, CAST(active AS CHAR) FROM {} WHERE lookup = ",
        tables.name("threadgate_key")
    ))
    .cached();
    q.bind_text(lookup).push(" ORDER BY id_key");
    Ok(q.load(conn)?
        .into_iter()
        .map(|r| KeyRow {
            id: num(&r.0[0]),
            hash: r.0[1].clone().unwrap_or_default(),
            active: r.0[2].as_deref() == Some("1"),
        })
        .collect())
}

/// Permissions and shops of a key, in one statement.
pub fn grants(conn: &mut MysqlConnection, tables: &Tables, id: u32) -> QueryResult<Grants> {
    load_grants(
        conn,
        &tables.name("threadgate_key_permission"),
        &tables.name("threadgate_key_shop"),
        "id_key",
        id,
    )
}

/// `(resource, method)` rows of `permissions` and `id_shop` rows of `shops` for one key, as one
/// `UNION ALL` statement: threadgate's own tables and PrestaShop's have the same shape.
fn load_grants(
    conn: &mut MysqlConnection,
    permissions: &str,
    shops: &str,
    key_column: &str,
    id: u32,
) -> QueryResult<Grants> {
    let mut q = Sql::new(format!(
        "SELECT 'p', resource, CAST(method AS CHAR) FROM {permissions} WHERE {key_column} = "
    ))
    .cached();
    q.bind_int(id.into());
    q.push(&format!(
        " UNION ALL SELECT 's', CAST(id_shop AS CHAR), '' FROM {shops} WHERE {key_column} = "
    ))
    .bind_int(id.into());
    let mut g = Grants::default();
    for r in q.load(conn)? {
        let a = r.0[1].clone().unwrap_or_default();
        match r.0[0].as_deref() {
            Some("p") => {
                if let Some(m) = r.0[2].as_deref().and_then(Method::parse) {
                    g.permissions.push((a, m));
                }
            }
            _ => {
                if let Ok(s) = a.parse() {
                    g.shops.push(s);
                }
            }
        }
    }
    Ok(g)
}

/// Inserts a key with its grants and bumps the generation, in one transaction.
pub fn insert(conn: &mut MysqlConnection, tables: &Tables, key: &NewKey<'_>) -> QueryResult<u32> {
    conn.transaction(|conn| {
        let mut q = Sql::new(format!(
            "INSERT INTO {} (lookup, hash, description, active, date_add, date_upd, id_webservice_account) VALUES (",
            tables.name("threadgate_key")
        ));
        q.bind_text(key.lookup)
            .push(", ")
            .bind_text(key.hash)
            .push(", ")
            .bind_text(key.description)
            .push(", ")
            .bind_int(i64::from(key.active))
            .push(", ")
            .bind_text(key.now)
            .push(", ")
            .bind_text(key.now)
            .push(", ");
        match key.source_account {
            Some(a) => q.bind_int(a.into()),
            None => q.push("NULL"),
        };
        q.push(")");
        q.execute(conn)?;
        let id: u32 = Sql::new("SELECT CAST(LAST_INSERT_ID() AS CHAR)")
            .load(conn)?
            .first()
            .and_then(|r| opt(&r.0[0]))
            .ok_or(diesel::result::Error::NotFound)?;
        add_grants(conn, tables, id, key.grants)?;
        bump_generation(conn, tables)?;
        Ok(id)
    })
}

/// Tells every running server to drop its verified-key cache.
pub fn bump_generation(conn: &mut MysqlConnection, tables: &Tables) -> QueryResult<()> {
    Sql::new(format!(
        "INSERT INTO {} (id, key_generation) VALUES (1, 1) ON DUPLICATE KEY UPDATE key_generation = key_generation + 1",
        tables.name("threadgate_state")
    ))
    .execute(conn)?;
    Ok(())
}

/// Adds permission and shop rows (existing ones are kept).
fn add_grants(
    conn: &mut MysqlConnection,
    tables: &Tables,
    id: u32,
    grants: &Grants,
) -> QueryResult<()> {
    for (resource, method) in &grants.permissions {
        let mut q = Sql::new(format!(
            "INSERT IGNORE INTO {} (id_key, resource, method) VALUES (",
            tables.name("threadgate_key_permission")
        ));
        q.bind_int(id.into())
            .push(", ")
            .bind_text(resource.as_str())
            .push(", ")
            .bind_text(method.as_str())
            .push(")");
        q.execute(conn)?;
    }
    for shop in &grants.shops {
        let mut q = Sql::new(format!(
            "INSERT IGNORE INTO {} (id_key, id_shop) VALUES (",
            tables.name("threadgate_key_shop")
        ));
        q.bind_int(id.into())
            .push(", ")
            .bind_int((*shop).into())
            .push(")");
        q.execute(conn)?;
    }
    Ok(())
}

fn exists(conn: &mut MysqlConnection, tables: &Tables, id: u32) -> QueryResult<bool> {
    let mut q = Sql::new(format!(
        "SELECT 1 FROM {} WHERE id_key = ",
        tables.name("threadgate_key")
    ));
    q.bind_int(id.into());
    Ok(!q.load(conn)?.is_empty())
}

/// Every key with its grants, by id.
pub fn list(conn: &mut MysqlConnection, tables: &Tables) -> QueryResult<Vec<KeyInfo>> {
    let rows = Sql::new(format!(
        "SELECT CAST(id_key AS CHAR), description, CAST(active AS CHAR), CAST(date_add AS CHAR), \
         CAST(last_used AS CHAR), CAST(id_webservice_account AS CHAR) FROM {} ORDER BY id_key",
        tables.name("threadgate_key")
    ))
    .load(conn)?;
    let mut keys: Vec<KeyInfo> = rows
        .into_iter()
        .map(|r| KeyInfo {
            id: num(&r.0[0]),
            description: r.0[1].clone().unwrap_or_default(),
            active: r.0[2].as_deref() == Some("1"),
            permissions: Vec::new(),
            shops: Vec::new(),
            created: r.0[3].clone().unwrap_or_default(),
            last_used: r.0[4].clone(),
            imported_from: opt(&r.0[5]),
        })
        .collect();
    let grants = Sql::new(format!(
        "SELECT CAST(id_key AS CHAR), 'p', resource, CAST(method AS CHAR) FROM {} \
         UNION ALL SELECT CAST(id_key AS CHAR), 's', CAST(id_shop AS CHAR), '' FROM {} \
         ORDER BY 1, 2, 3, 4",
        tables.name("threadgate_key_permission"),
        tables.name("threadgate_key_shop")
    ))
    .load(conn)?;
    for r in grants {
        let Some(k) = opt::<u32>(&r.0[0]).and_then(|id| keys.iter_mut().find(|k| k.id == id))
        else {
            continue;
        };
        let a = r.0[2].clone().unwrap_or_default();
        if r.0[1].as_deref() == Some("p") {
            k.permissions.push((a, r.0[3].clone().unwrap_or_default()));
        } else if let Ok(shop) = a.parse() {
            k.shops.push(shop);
        }
    }
    for k in &mut keys {
        k.shops.sort_unstable();
    }
    Ok(keys)
}

/// Enables or disables a key and bumps the generation, in one transaction. `false` when there
/// is no such key.
pub fn set_active(
    conn: &mut MysqlConnection,
    tables: &Tables,
    id: u32,
    active: bool,
    now: &str,
) -> QueryResult<bool> {
    conn.transaction(|conn| {
        if !exists(conn, tables, id)? {
            return Ok(false);
        }
        let mut q = Sql::new(format!(
            "UPDATE {} SET active = ",
            tables.name("threadgate_key")
        ));
        q.bind_int(i64::from(active))
            .push(", date_upd = ")
            .bind_text(now)
            .push(" WHERE id_key = ")
            .bind_int(id.into());
        q.execute(conn)?;
        bump_generation(conn, tables)?;
        Ok(true)
    })
}

/// Adds (`grant`) or removes (`deny`) permissions and shops, and bumps the generation, in one
/// transaction. `false` when there is no such key.
pub fn change_grants(
    conn: &mut MysqlConnection,
    tables: &Tables,
    id: u32,
    grants: &Grants,
    add: bool,
    now: &str,
) -> QueryResult<bool> {
    conn.transaction(|conn| {
        if !exists(conn, tables, id)? {
            return Ok(false);
        }
        if add {
            add_grants(conn, tables, id, grants)?;
        } else {
            for (resource, method) in &grants.permissions {
                let mut q = Sql::new(format!(
                    "DELETE FROM {} WHERE id_key = ",
                    tables.name("threadgate_key_permission")
                ));
                q.bind_int(id.into())
                    .push(" AND resource = ")
                    .bind_text(resource.as_str())
                    .push(" AND method = ")
                    .bind_text(method.as_str());
                q.execute(conn)?;
            }
            for shop in &grants.shops {
                let mut q = Sql::new(format!(
                    "DELETE FROM {} WHERE id_key = ",
                    tables.name("threadgate_key_shop")
                ));
                q.bind_int(id.into())
                    .push(" AND id_shop = ")
                    .bind_int((*shop).into());
                q.execute(conn)?;
            }
        }
        let mut q = Sql::new(format!(
            "UPDATE {} SET date_upd = ",
            tables.name("threadgate_key")
        ));
        q.bind_text(now)
            .push(" WHERE id_key = ")
            .bind_int(id.into());
        q.execute(conn)?;
        bump_generation(conn, tables)?;
        Ok(true)
    })
}

/// The stored key imported from the shop's account `account`: (id_key, hash).
pub fn by_source_account(
    conn: &mut MysqlConnection,
    tables: &Tables,
    account: u32,
) -> QueryResult<Option<(u32, String)>> {
    let mut q = Sql::new(format!(
        "SELECT CAST(id_key AS CHAR), hash FROM {} WHERE id_webservice_account = ",
        tables.name("threadgate_key")
    ));
    q.bind_int(account.into());
    Ok(q.load(conn)?
        .into_iter()
        .next()
        .map(|r| (num(&r.0[0]), r.0[1].clone().unwrap_or_default())))
}

/// Every key imported from the shop: (id_key, id_webservice_account, active).
pub fn imported(conn: &mut MysqlConnection, tables: &Tables) -> QueryResult<Vec<(u32, u32, bool)>> {
    let rows = Sql::new(format!(
        "SELECT CAST(id_key AS CHAR), CAST(id_webservice_account AS CHAR), CAST(active AS CHAR) \
         FROM {} WHERE id_webservice_account IS NOT NULL ORDER BY id_key",
        tables.name("threadgate_key")
    ))
    .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|r| Some((opt(&r.0[0])?, opt(&r.0[1])?, r.0[2].as_deref() == Some("1"))))
        .collect())
}

/// Disables a key without bumping the generation (the caller's transaction does).
pub fn disable(conn: &mut MysqlConnection, tables: &Tables, id: u32, now: &str) -> QueryResult<()> {
    let mut q = Sql::new(format!(
        "UPDATE {} SET active = 0, date_upd = ",
        tables.name("threadgate_key")
    ));
    q.bind_text(now)
        .push(" WHERE id_key = ")
        .bind_int(id.into());
    q.execute(conn)?;
    Ok(())
}

/// Replaces an imported key's hash (when given), description, flag and grants with the shop's.
/// The caller runs it in the import's transaction and bumps the generation.
pub fn replace_imported(
    conn: &mut MysqlConnection,
    tables: &Tables,
    id: u32,
    new_hash: Option<(&str, &str)>,
    account: &PrestashopAccount,
    now: &str,
) -> QueryResult<()> {
    let (description, active, grants) = (&account.description, account.active, &account.grants);
    let mut q = Sql::new(format!(
        "UPDATE {} SET description = ",
        tables.name("threadgate_key")
    ));
    q.bind_text(description.as_str())
        .push(", active = ")
        .bind_int(i64::from(active))
        .push(", date_upd = ")
        .bind_text(now);
    if let Some((lookup, hash)) = new_hash {
        q.push(", lookup = ")
            .bind_text(lookup)
            .push(", hash = ")
            .bind_text(hash);
    }
    q.push(" WHERE id_key = ").bind_int(id.into());
    q.execute(conn)?;
    for table in ["threadgate_key_permission", "threadgate_key_shop"] {
        let mut q = Sql::new(format!(
            "DELETE FROM {} WHERE id_key = ",
            tables.name(table)
        ));
        q.bind_int(id.into());
        q.execute(conn)?;
    }
    add_grants(conn, tables, id, grants)
}

/// Notes when keys were last used. Not a key change: the generation stays.
pub fn touch_last_used(
    conn: &mut MysqlConnection,
    tables: &Tables,
    ids: &[u32],
    now: &str,
) -> QueryResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut q = Sql::new(format!(
        "UPDATE {} SET last_used = ",
        tables.name("threadgate_key")
    ));
    q.bind_text(now).push(" WHERE id_key IN (");
    for (n, id) in ids.iter().enumerate() {
        if n > 0 {
            q.push(", ");
        }
        q.bind_int((*id).into());
    }
    q.push(")");
    q.execute(conn)?;
    Ok(())
}

// --- the shop's own tables (`auth.source = prestashop`, `keys import-prestashop`) ---

/// PrestaShop's look-up (`WebserviceKey::isKeyActive`): SQL equality on `key`, which the
/// table's `_ci` collation makes case-insensitive. (id_webservice_account, active).
pub fn prestashop_account(
    conn: &mut MysqlConnection,
    tables: &Tables,
    key: &str,
) -> QueryResult<Option<(u32, bool)>> {
    let mut q = Sql::new(format!(
        "SELECT CAST(id_webservice_account AS CHAR), CAST(active AS CHAR) FROM {} WHERE `key` = ",
        tables.name("webservice_account")
    ))
    .cached();
    q.bind_text(key)
        .push(" ORDER BY id_webservice_account LIMIT 1");
    Ok(q.load(conn)?
        .into_iter()
        .next()
        .map(|r| (num(&r.0[0]), r.0[1].as_deref().is_some_and(|v| v != "0"))))
}

/// An account's `webservice_permission` and `webservice_account_shop` rows, in one statement.
pub fn prestashop_grants(
    conn: &mut MysqlConnection,
    tables: &Tables,
    account: u32,
) -> QueryResult<Grants> {
    load_grants(
        conn,
        &tables.name("webservice_permission"),
        &tables.name("webservice_account_shop"),
        "id_webservice_account",
        account,
    )
}

/// Every account of the shop's `webservice_account`, with its grants.
pub fn prestashop_accounts(
    conn: &mut MysqlConnection,
    tables: &Tables,
) -> QueryResult<Vec<PrestashopAccount>> {
    let rows = Sql::new(format!(
        "SELECT CAST(id_webservice_account AS CHAR), `key`, description, CAST(active AS CHAR) \
         FROM {} ORDER BY id_webservice_account",
        tables.name("webservice_account")
    ))
    .load(conn)?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let id = num(&r.0[0]);
        out.push(PrestashopAccount {
            id,
            key: r.0[1].clone().unwrap_or_default(),
            description: r.0[2].clone().unwrap_or_default(),
            active: r.0[3].as_deref().is_some_and(|v| v != "0"),
            grants: prestashop_grants(conn, tables, id)?,
        });
    }
    Ok(out)
}
