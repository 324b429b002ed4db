//! SQL of threadgate's own key store (`threadgate_key`, `_permission`, `_shop`, `_state`).
//! Hashing and verification live in `auth`; this module only moves rows.

use diesel::connection::Connection;
use diesel::mysql::MysqlConnection;
use diesel::QueryResult;

use super::sql::Sql;
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
            id: r.0[0].as_deref().and_then(|s| s.parse().ok()).unwrap_or(0),
            hash: r.0[1].clone().unwrap_or_default(),
            active: r.0[2].as_deref() == Some("1"),
        })
        .collect())
}

/// Permissions and shops of a key, in one statement.
pub fn grants(conn: &mut MysqlConnection, tables: &Tables, id: u32) -> QueryResult<Grants> {
    let mut q = Sql::new(format!(
        "SELECT 'p', resource, CAST(method AS CHAR) FROM {} WHERE id_key = ",
        tables.name("threadgate_key_permission")
    ))
    .cached();
    q.bind_int(id.into());
    q.push(&format!(
        " UNION ALL SELECT 's', CAST(id_shop AS CHAR), '' FROM {} WHERE id_key = ",
        tables.name("threadgate_key_shop")
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
            "INSERT INTO {} (lookup, hash, description, active, date_add, date_upd) VALUES (",
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
            .push(")");
        q.execute(conn)?;
        let id: u32 = Sql::new("SELECT CAST(LAST_INSERT_ID() AS CHAR)")
            .load(conn)?
            .first()
            .and_then(|r| r.0[0].as_deref().and_then(|s| s.parse().ok()))
            .ok_or(diesel::result::Error::NotFound)?;
        for (resource, method) in &key.grants.permissions {
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
        for shop in &key.grants.shops {
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
