//! Keys: where a request's key comes from, how a key is hashed and verified, what it may do.
//!
//! - [`credential`]: the key of a request, exactly as PrestaShop's dispatcher finds it (spec
//!   §1, §2.1): the Basic user name, else a forwarded `Authorization`, else `ws_key`.
//! - [`keys`]: generation, argon2id hashing and verification (never a key in plain text).
//! - [`cache`]: verified keys in memory, so steady-state requests run no argon2 (decisions,
//!   Keys and permissions).
//! - [`authenticate`]: the whole check with PrestaShop's error codes 17, 18, 20, 21.
//!
//! Must not import actix; the `http` layer hands in header values as bytes.

pub mod admin;
pub mod cache;
pub mod credential;
pub mod keys;

use std::sync::Arc;

use crate::db::{self, Pool, Tables};
use crate::error::ApiError;
use crate::resource::Method;

pub use cache::KeyCache;

/// A verified, active key: its id and grants. Never holds the key itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: u32,
    /// Resource name → granted methods, as a bit set over `Method::ALL`.
    pub permissions: Vec<(String, u8)>,
    pub shops: Vec<u32>,
}

fn bit(m: Method) -> u8 {
    1 << (Method::ALL.iter().position(|&x| x == m).unwrap_or(0) as u8)
}

impl Account {
    pub fn from_grants(id: u32, grants: &db::keys::Grants) -> Account {
        let mut permissions: Vec<(String, u8)> = Vec::new();
        for (r, m) in &grants.permissions {
            match permissions.iter_mut().find(|(name, _)| name == r) {
                Some((_, bits)) => *bits |= bit(*m),
                None => permissions.push((r.clone(), bit(*m))),
            }
        }
        Account {
            id,
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

    /// At least one permission row for `resource` (spec §2.2, code 26 otherwise).
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

/// Checks a key: 17 when empty, 18 when not 32 bytes, 20+21 when unknown or inactive, 21 when
/// it has no permission at all. A cache hit costs no statement and no argon2; a miss verifies
/// the few stored hashes of the key's lookup bucket off the request threads.
pub async fn authenticate(
    pool: &Pool,
    tables: &Tables,
    cache: &KeyCache,
    raw_key: &str,
) -> Result<Arc<Account>, ApiError> {
    let key = raw_key.trim_matches(PHP_TRIM);
    if key.is_empty() {
        return Err(ApiError::empty_key());
    }
    if key.len() != 32 {
        return Err(ApiError::bad_key_format());
    }
    let normalized = keys::normalize(key);
    let fingerprint = cache.fingerprint(&normalized);
    if let Some(account) = cache.get(&fingerprint) {
        return permitted(account);
    }
    let flight = cache.flight(&fingerprint);
    let _turn = flight.turn().await;
    if let Some(account) = cache.get(&fingerprint) {
        return permitted(account);
    }
    let _permit = cache.verification_permit().await;
    let generation = cache.generation();
    let tables = tables.clone();
    let found = db::run(pool, move |conn| -> Result<Option<Account>, ApiError> {
        let bucket = keys::lookup_bucket(&normalized);
        for row in
            db::keys::candidates(conn, &tables, &bucket).map_err(crate::error::DbError::from)?
        {
            if keys::verify(&normalized, &row.hash) {
                if !row.active {
                    return Ok(None);
                }
                let grants =
                    db::keys::grants(conn, &tables, row.id).map_err(crate::error::DbError::from)?;
                return Ok(Some(Account::from_grants(row.id, &grants)));
            }
        }
        Ok(None)
    })
    .await?;
    let account = Arc::new(found.ok_or_else(ApiError::key_not_active)?);
    cache.insert(fingerprint, account.clone(), generation);
    permitted(account)
}

fn permitted(account: Arc<Account>) -> Result<Arc<Account>, ApiError> {
    if account.permissions.is_empty() {
        Err(ApiError::key_without_permissions())
    } else {
        Ok(account)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::keys::Grants;

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
