//! Creating keys (the CLI's `keys create`, and the tests). The key is returned once and only
//! its argon2id hash is stored.

use anyhow::{bail, Context};
use diesel::mysql::MysqlConnection;

use super::keys;
use crate::db::keys::{self as store, Grants, NewKey};
use crate::db::shop;
use crate::db::Tables;
use crate::resource::{Method, CORE_RESOURCE_NAMES};

/// What to create.
#[derive(Debug, Clone, Default)]
pub struct CreateKey {
    pub resources: Vec<String>,
    pub methods: Vec<Method>,
    /// Empty: every shop of the `shop` table (as PrestaShop's form does on a single shop).
    pub shops: Vec<u32>,
    pub description: String,
    /// Store this key instead of a generated one (e.g. to keep a client's existing key).
    pub key: Option<String>,
    pub active: bool,
}

/// Stores a key; returns its id and the key (shown once).
pub fn create(
    conn: &mut MysqlConnection,
    tables: &Tables,
    req: &CreateKey,
    now: &str,
) -> anyhow::Result<(u32, String)> {
    for r in &req.resources {
        if !CORE_RESOURCE_NAMES.contains(&r.as_str()) {
            bail!("unknown resource {r:?}");
        }
    }
    let key = match &req.key {
        Some(k) if keys::is_well_formed(k) => k.clone(),
        Some(_) => bail!("a key is 32 characters of A-Z, a-z, 0-9, @, #, ?, - and _"),
        None => keys::generate(),
    };
    let shops = if req.shops.is_empty() {
        let s: Vec<u32> = shop::load(conn, tables)
            .context("reading the shop table")?
            .shops
            .iter()
            .map(|s| s.id)
            .collect();
        if s.is_empty() {
            vec![1]
        } else {
            s
        }
    } else {
        req.shops.clone()
    };
    let grants = Grants {
        permissions: req
            .resources
            .iter()
            .flat_map(|r| req.methods.iter().map(move |m| (r.clone(), *m)))
            .collect(),
        shops,
    };
    let normalized = keys::normalize(&key);
    let hash = keys::hash(&normalized);
    let id = store::insert(
        conn,
        tables,
        &NewKey {
            lookup: &keys::lookup_bucket(&normalized),
            hash: &hash,
            description: &req.description,
            active: req.active,
            grants: &grants,
            now,
        },
    )?;
    Ok((id, key))
}
