//! What `threadgate keys ...` does (and the tests call): create, list, revoke/enable,
//! grant/deny, import-prestashop. A key is returned once by `create` and only its argon2id hash
//! is stored. Every change bumps the key-store generation in its own transaction, so running
//! servers stop trusting their cached verifications at once.

use anyhow::{bail, Context};
use diesel::mysql::MysqlConnection;
use diesel::Connection;

use super::secret;
use crate::config::Argon2Settings;
use crate::db::key_store::{self as store, Grants, KeyInfo, NewKey};
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
    cost: &Argon2Settings,
    now: &str,
) -> anyhow::Result<(u32, String)> {
    check_resources(&req.resources)?;
    let key = match &req.key {
        Some(k) if secret::is_well_formed(k) => k.clone(),
        Some(_) => bail!("a key is 32 characters of A-Z, a-z, 0-9, @, #, ?, - and _"),
        None => secret::generate(),
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
        permissions: cross(&req.resources, &req.methods),
        shops,
    };
    let normalized = secret::normalize(&key);
    let hash = secret::hash(&normalized, cost)?;
    let id = store::insert(
        conn,
        tables,
        &NewKey {
            lookup: &secret::lookup_bucket(&normalized),
            hash: &hash,
            description: &req.description,
            active: req.active,
            grants: &grants,
            now,
            source_account: None,
        },
    )?;
    Ok((id, key))
}

fn check_resources(resources: &[String]) -> anyhow::Result<()> {
    for r in resources {
        if !CORE_RESOURCE_NAMES.contains(&r.as_str()) {
            bail!("unknown resource {r:?}");
        }
    }
    Ok(())
}

/// resources × methods.
fn cross(resources: &[String], methods: &[Method]) -> Vec<(String, Method)> {
    resources
        .iter()
        .flat_map(|r| methods.iter().map(move |m| (r.clone(), *m)))
        .collect()
}

/// Every key with its grants and times (never the key).
pub fn list(conn: &mut MysqlConnection, tables: &Tables) -> anyhow::Result<Vec<KeyInfo>> {
    Ok(store::list(conn, tables)?)
}

/// `keys revoke` (`active = false`) and `keys enable` (`active = true`).
pub fn set_active(
    conn: &mut MysqlConnection,
    tables: &Tables,
    id: u32,
    active: bool,
    now: &str,
) -> anyhow::Result<()> {
    if !store::set_active(conn, tables, id, active, now)? {
        bail!("there is no key #{id}");
    }
    Ok(())
}

/// What `keys grant` / `keys deny` change.
#[derive(Debug, Clone, Default)]
pub struct GrantChange {
    pub resources: Vec<String>,
    pub methods: Vec<Method>,
    pub shops: Vec<u32>,
    /// `true`: grant; `false`: deny.
    pub add: bool,
}

/// `keys grant` (`add`) and `keys deny`: resources × methods, and shops.
pub fn change_grants(
    conn: &mut MysqlConnection,
    tables: &Tables,
    id: u32,
    change: &GrantChange,
    now: &str,
) -> anyhow::Result<()> {
    let GrantChange {
        resources,
        methods,
        shops,
        add,
    } = change;
    let add = *add;
    check_resources(resources)?;
    if resources.is_empty() != methods.is_empty() {
        bail!("give both --resource and --method (or neither, with --shop)");
    }
    let grants = Grants {
        permissions: cross(resources, methods),
        shops: shops.to_vec(),
    };
    if grants.permissions.is_empty() && grants.shops.is_empty() {
        bail!("nothing to change: give --resource and --method, or --shop");
    }
    if !store::change_grants(conn, tables, id, &grants, add, now)? {
        bail!("there is no key #{id}");
    }
    Ok(())
}

/// What `keys import-prestashop` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportReport {
    /// (id_webservice_account, id_key) of accounts stored for the first time.
    pub created: Vec<(u32, u32)>,
    /// Accounts already imported, brought up to date.
    pub updated: Vec<(u32, u32)>,
    /// Accounts whose key PrestaShop's webservice could never accept (not 32 characters).
    pub skipped: Vec<u32>,
    /// (id_webservice_account, id_key) of keys imported earlier whose account is gone from
    /// `webservice_account` (deleted in the Back Office) or now holds a key PrestaShop
    /// refuses: disabled by this run, as PrestaShop no longer accepts them.
    pub disabled: Vec<(u32, u32)>,
}

/// Copies every account of the shop's `webservice_account` (with its permissions, shops and
/// active flag) into the hashed store, in one transaction. Idempotent: an account imported
/// before is updated in place (re-hashed only when its key changed in the Back Office). The
/// store mirrors the Back Office: a key imported earlier whose account no longer exists (or
/// holds a key PrestaShop's webservice refuses) is disabled; keys made with `keys create`
/// (no source account) are never touched.
pub fn import_prestashop(
    conn: &mut MysqlConnection,
    tables: &Tables,
    cost: &Argon2Settings,
    now: &str,
) -> anyhow::Result<ImportReport> {
    let accounts = store::prestashop_accounts(conn, tables)
        .context("reading the shop's webservice_account")?;
    conn.transaction::<_, anyhow::Error, _>(|conn| {
        let mut report = ImportReport::default();
        for a in &accounts {
            let key = a.key.trim_matches([' ', '\t', '\n', '\r', '\0', '\x0b']);
            if key.len() != 32 {
                report.skipped.push(a.id);
                continue;
            }
            let normalized = secret::normalize(key);
            match store::by_source_account(conn, tables, a.id)? {
                Some((id, hash)) => {
                    let fresh = if secret::verify(&normalized, &hash) {
                        None
                    } else {
                        Some((
                            secret::lookup_bucket(&normalized),
                            secret::hash(&normalized, cost)?,
                        ))
                    };
                    store::replace_imported(
                        conn,
                        tables,
                        id,
                        fresh.as_ref().map(|(l, h)| (l.as_str(), h.as_str())),
                        a,
                        now,
                    )?;
                    report.updated.push((a.id, id));
                }
                None => {
                    let id = store::insert(
                        conn,
                        tables,
                        &NewKey {
                            lookup: &secret::lookup_bucket(&normalized),
                            hash: &secret::hash(&normalized, cost)?,
                            description: &a.description,
                            active: a.active,
                            grants: &a.grants,
                            now,
                            source_account: Some(a.id),
                        },
                    )?;
                    report.created.push((a.id, id));
                }
            }
        }
        let kept: Vec<u32> = report
            .created
            .iter()
            .chain(&report.updated)
            .map(|(account, _)| *account)
            .collect();
        for (id, account, active) in store::imported(conn, tables)? {
            if active && !kept.contains(&account) {
                store::disable(conn, tables, id, now)?;
                report.disabled.push((account, id));
            }
        }
        store::bump_generation(conn, tables)?;
        Ok(report)
    })
}

/// The shop's "now" for the rows `keys ...` writes: `PS_TIMEZONE` of the shop's configuration,
/// else `THREADGATE_TIMEZONE`, else UTC (docs/compatibility.md W17).
pub fn shop_now(conn: &mut MysqlConnection, tables: &Tables) -> String {
    let fallback = std::env::var("THREADGATE_TIMEZONE")
        .ok()
        .and_then(|z| z.parse().ok())
        .unwrap_or(chrono_tz::UTC);
    shop::load(conn, tables).unwrap_or_default().now(fallback)
}
