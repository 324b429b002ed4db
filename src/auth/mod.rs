//! Keys: where a request's key comes from, how a key is hashed and verified, what it may do.
//!
//! - [`credential`]: the key of a request, exactly as PrestaShop's dispatcher finds it
//!   (docs/prestashop/authentication.md#where-the-key-comes-from,
//!   docs/prestashop/authentication.md#outcomes): the Basic user name, else a forwarded
//!   `Authorization`, else `ws_key`.
//! - [`secret`]: generation, argon2id hashing and verification (never a key in plain text).
//! - [`cache`]: verified keys in memory, so steady-state requests run no argon2
//!   (docs/architecture.md#keys).
//! - [`limit`]: failed-authentication rate limiting per client address.
//! - [`authenticate`]: the whole check with PrestaShop's error codes 17, 18, 20, 21, against
//!   either key source (`own`: the argon2id store; `prestashop`: the shop's own tables).
//! - [`admin`]: what `threadgate keys ...` does.
//!
//! Must not import actix; the `http` layer hands in header values as bytes.

pub mod admin;
pub mod cache;
pub mod credential;
pub mod limit;
pub mod secret;

use std::sync::Arc;

use crate::db::{self, Pool, Tables};
use crate::error::{ApiError, DbError};
use crate::resource::Method;

pub use crate::config::KeySource;
pub use cache::{KeyCache, UsageLog};
pub use limit::FailureLimiter;

/// A verified, active key: its id and grants. Never holds the key itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// `id_key` of the own store, or `id_webservice_account` of the shop's table.
    pub id: u32,
    pub source: KeySource,
    /// Resource name → granted methods, as a bit set over `Method::ALL`.
    pub permissions: Vec<(String, u8)>,
    pub shops: Vec<u32>,
}

fn bit(m: Method) -> u8 {
    1 << (Method::ALL.iter().position(|&x| x == m).unwrap_or(0) as u8)
}

impl Account {
    pub fn from_grants(id: u32, grants: &db::key_store::Grants) -> Account {
        let mut permissions: Vec<(String, u8)> = Vec::new();
        for (r, m) in &grants.permissions {
            match permissions.iter_mut().find(|(name, _)| name == r) {
                Some((_, bits)) => *bits |= bit(*m),
                None => permissions.push((r.clone(), bit(*m))),
            }
        }
        Account {
            id,
            source: KeySource::Own,
            permissions,
            shops: grants.shops.clone(),
        }
    }

    /// The key's six permissions on `resource`, in `Method::ALL` order.
    pub fn methods(&self, resource: &str) -> [bool; 6] {
        let bits = self
            .permissions
            .iter()
            .find(|(r, _)| r == resource)
            .map_or(0, |(_, b)| *b);
        Method::ALL.map(|m| bits & bit(m) != 0)
    }

    /// At least one permission row for `resource` (docs/prestashop/authentication.md#permissions,
    /// code 26 otherwise).
    pub fn knows(&self, resource: &str) -> bool {
        self.methods(resource).iter().any(|&b| b)
    }

    pub fn allows(&self, resource: &str, method: Method) -> bool {
        self.permissions
            .iter()
            .any(|(r, b)| r == resource && b & bit(method) != 0)
    }
}

/// PHP `trim()`'s characters.
const PHP_TRIM: [char; 6] = [' ', '\t', '\n', '\r', '\0', '\x0b'];

/// A key that passed [`authenticate`], and the key-store generation the check was made
/// under (a request that later sees another generation checks the key again).
#[derive(Debug, Clone)]
pub struct Verified {
    pub account: Arc<Account>,
    pub generation: u64,
}

/// Checks a key: 17 when empty, 18 when not 32 bytes, 20+21 when unknown or inactive, 21 when
/// it has no permission at all. A cache hit costs no statement and no argon2. A miss, with the
/// own store, reads the few stored hashes of the key's lookup bucket and verifies them with
/// argon2id off the request threads; with the PrestaShop source, it looks the key up in the
/// shop's `webservice_account` as PrestaShop does (SQL equality under the table's `_ci`
/// collation).
pub async fn authenticate(
    pool: &Pool,
    tables: &Tables,
    cache: &Arc<KeyCache>,
    source: KeySource,
    raw_key: &str,
) -> Result<Verified, ApiError> {
    let normalized = shape(raw_key)?;
    let fingerprint = cache.fingerprint(&normalized);
    let generation = cache.generation();
    // One verification per key at a time: the requests that miss meanwhile share its result.
    // And at most one argon2 run per core (each holds ~19 MiB).
    let account = cache
        .verified(fingerprint, || async {
            let _permit = cache.verification_permit().await;
            let (tables, cache) = (tables.clone(), cache.clone());
            db::run(pool, move |conn| {
                find_account(conn, &tables, &cache, source, &normalized)
            })
            .await
        })
        .await?;
    permitted(account, generation)
}

/// [`authenticate`] for a client address over the failed-authentication limit: only a key
/// that is verified now (in the cache) or that this process verified before (vouched for, so
/// the argon2 run, if one is needed, is not spent on a guess) is checked; `None` for any other
/// key, without a statement or argon2, so the address cannot go on guessing.
pub async fn authenticate_known(
    pool: &Pool,
    tables: &Tables,
    cache: &Arc<KeyCache>,
    source: KeySource,
    raw_key: &str,
) -> Option<Result<Verified, ApiError>> {
    let normalized = shape(raw_key).ok()?;
    let fingerprint = cache.fingerprint(&normalized);
    let generation = cache.generation();
    if let Some(account) = cache.get(&fingerprint) {
        return Some(permitted(account, generation));
    }
    if !cache.is_vouched(&fingerprint) {
        return None;
    }
    Some(authenticate(pool, tables, cache, source, raw_key).await)
}

/// The key, trimmed as PHP's `trim()` does and normalised (W18), or 17 / 18.
fn shape(raw_key: &str) -> Result<String, ApiError> {
    let key = raw_key.trim_matches(PHP_TRIM);
    if key.is_empty() {
        return Err(ApiError::empty_key());
    }
    if key.len() != 32 {
        return Err(ApiError::bad_key_format());
    }
    Ok(secret::normalize(key))
}

/// [`authenticate`] on a connection the caller already holds (inside `db::run`).
pub fn authenticate_blocking(
    conn: &mut diesel::MysqlConnection,
    tables: &Tables,
    cache: &KeyCache,
    source: KeySource,
    raw_key: &str,
) -> Result<Verified, ApiError> {
    let normalized = shape(raw_key)?;
    verify_normalized(conn, tables, cache, source, &normalized)
}

fn verify_normalized(
    conn: &mut diesel::MysqlConnection,
    tables: &Tables,
    cache: &KeyCache,
    source: KeySource,
    normalized: &str,
) -> Result<Verified, ApiError> {
    let generation = cache.generation();
    let fingerprint = cache.fingerprint(normalized);
    if let Some(account) = cache.get(&fingerprint) {
        return permitted(account, generation);
    }
    let account = Arc::new(find_account(conn, tables, cache, source, normalized)?);
    cache.insert(fingerprint, account.clone(), generation);
    permitted(account, generation)
}

/// The active account of a key, from either source (20+21 when there is none).
fn find_account(
    conn: &mut diesel::MysqlConnection,
    tables: &Tables,
    cache: &KeyCache,
    source: KeySource,
    normalized: &str,
) -> Result<Account, ApiError> {
    let found = match source {
        KeySource::Own => own_account(conn, tables, normalized, cache)?,
        KeySource::Prestashop => prestashop_account(conn, tables, normalized)?,
    };
    let Some(account) = found else {
        cache.unvouch(&cache.fingerprint(normalized));
        return Err(ApiError::key_not_active());
    };
    cache.vouch(cache.fingerprint(normalized));
    Ok(account)
}

/// The shop's own tables, as PrestaShop reads them.
fn prestashop_account(
    conn: &mut diesel::MysqlConnection,
    tables: &Tables,
    normalized: &str,
) -> Result<Option<Account>, ApiError> {
    let Some((id, active)) =
        db::key_store::prestashop_account(conn, tables, normalized).map_err(DbError::from)?
    else {
        return Ok(None);
    };
    if !active {
        return Ok(None);
    }
    let grants = db::key_store::prestashop_grants(conn, tables, id).map_err(DbError::from)?;
    let mut account = Account::from_grants(id, &grants);
    account.source = KeySource::Prestashop;
    Ok(Some(account))
}

/// What a request needs to check its key again when the key store changed while it ran:
/// the first data statement of every request also returns the store's generation; when that
/// differs from the one the key was verified under, the cache is emptied at once (on this
/// worker and, through the shared cache, every other) and the key is verified afresh before
/// anything is answered or written.
#[derive(Clone)]
pub struct Recheck {
    pub key: String,
    pub generation: u64,
    pub cache: Arc<KeyCache>,
    pub source: KeySource,
    pub tables: Tables,
}

impl Recheck {
    /// `Ok(None)`: the store did not change; `Ok(Some(v))`: it did and the key is still valid
    /// (the caller checks `v.account`'s grants again); `Err`: the key is no longer valid.
    pub fn blocking(
        &self,
        conn: &mut diesel::MysqlConnection,
        observed: Option<u64>,
    ) -> Result<Option<Verified>, ApiError> {
        match observed {
            Some(g) if g > self.generation => {
                self.cache.advance_generation(g);
                authenticate_blocking(conn, &self.tables, &self.cache, self.source, &self.key)
                    .map(Some)
            }
            _ => Ok(None),
        }
    }
}

/// The own store: argon2id against every hash of the key's lookup bucket (almost always none
/// or one). A wrong key, whether random or equal to a real key but for one character, lands
/// in a bucket of its own and costs one indexed statement and no argon2: there is no partial
/// comparison to exit early from.
fn own_account(
    conn: &mut diesel::MysqlConnection,
    tables: &Tables,
    normalized: &str,
    cache: &KeyCache,
) -> Result<Option<Account>, ApiError> {
    let bucket = secret::lookup_bucket(normalized);
    for row in db::key_store::candidates(conn, tables, &bucket).map_err(DbError::from)? {
        cache.count_verification();
        if secret::verify(normalized, &row.hash) {
            if !row.active {
                return Ok(None);
            }
            let grants = db::key_store::grants(conn, tables, row.id).map_err(DbError::from)?;
            return Ok(Some(Account::from_grants(row.id, &grants)));
        }
    }
    Ok(None)
}

fn permitted(account: Arc<Account>, generation: u64) -> Result<Verified, ApiError> {
    if account.permissions.is_empty() {
        Err(ApiError::key_without_permissions())
    } else {
        Ok(Verified {
            account,
            generation,
        })
    }
}

/// Whether a failed [`authenticate`] counts against the client's address: the key-related
/// 401s (17, 18, 20, 21), never a database failure.
pub fn is_key_failure(e: &ApiError) -> bool {
    e.status == 401
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::key_store::Grants;

    #[test]
    fn permissions_are_per_resource_and_method_with_nothing_implied() {
        let grants = Grants {
            permissions: vec![
                ("customer_threads".into(), Method::Get),
                ("customer_threads".into(), Method::Put),
                ("customer_messages".into(), Method::Head),
            ],
            shops: vec![1],
        };
        let a = Account::from_grants(7, &grants);
        assert_eq!(
            a.methods("customer_threads"),
            [true, true, false, false, false, false]
        );
        assert!(a.allows("customer_threads", Method::Get));
        assert!(
            !a.allows("customer_threads", Method::Head),
            "GET does not grant HEAD"
        );
        assert!(
            !a.allows("customer_threads", Method::Patch),
            "PUT does not grant PATCH"
        );
        assert!(a.knows("customer_messages"));
        assert!(!a.knows("customers"));
    }
}
