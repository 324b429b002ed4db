//! A request's key, checked in this order: the failure limit for the client's address first
//! (over it, only a key verified now or vouched for earlier goes on, through
//! [`auth::authenticate_known`]; any other gets 429 before any key look-up or argon2), then
//! [`auth::authenticate`]; a key-related failure (17, 18, 20, 21) counts against the address
//! (the failure that reaches the limit is logged at `warn`, once per window), a success marks
//! the key as used (written later by the background refresh).
//!
//! Also [`Guard`]: the re-check a request makes when its first data statement shows that the
//! key store changed after its key was verified.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use actix_web::http::header::X_FORWARDED_FOR;
use actix_web::{HttpMessage, HttpRequest};
use diesel::MysqlConnection;

use super::observe::{ClientAddress, KeyId};
use crate::auth::{self, limit, Account, KeySource, Recheck, Verified};
use crate::error::ApiError;
use crate::resource::Method;
use crate::state::AppState;

/// The client's address: the TCP peer, or with trusted proxies configured, the last
/// untrusted `X-Forwarded-For` hop. Resolved once per request: the access log's middleware
/// keeps it in the request's extensions (`observe::ClientAddress`).
pub fn client_address(req: &HttpRequest, state: &AppState) -> IpAddr {
    if let Some(seen) = req.extensions().get::<ClientAddress>() {
        return seen.0;
    }
    let peer = req
        .peer_addr()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip());
    let forwarded = req
        .headers()
        .get_all(X_FORWARDED_FOR)
        .filter_map(|v| v.to_str().ok());
    limit::client_address(peer, &state.settings.trusted_proxies, forwarded)
}

/// A key accepted, by either path: its id for the access log (never the key) and its use.
fn accepted(req: &HttpRequest, state: &AppState, v: Verified) -> Verified {
    req.extensions_mut().insert(KeyId(v.account.id));
    if v.account.source == KeySource::Own {
        state.usage.record(v.account.id, Instant::now());
    }
    v
}

/// Checks the request's key (see the module documentation).
pub async fn authenticate(
    req: &HttpRequest,
    state: &AppState,
    key: &str,
) -> Result<Verified, ApiError> {
    let client = client_address(req, state);
    if let Err(seconds) = state.limiter.check(client, Instant::now()) {
        let known = auth::authenticate_known(
            &state.pool,
            &state.tables,
            &state.keys,
            state.settings.auth_source,
            key,
        )
        .await;
        return match known {
            Some(Ok(v)) => Ok(accepted(req, state, v)),
            // A database failure is not the key's fault.
            Some(Err(e)) if !auth::is_key_failure(&e) => Err(e),
            _ => {
                state.metrics.throttled();
                tracing::debug!(%client, "refused: over the failed-authentication limit");
                Err(ApiError::too_many_failures(seconds))
            }
        };
    }
    match auth::authenticate(
        &state.pool,
        &state.tables,
        &state.keys,
        state.settings.auth_source,
        key,
    )
    .await
    {
        Ok(v) => Ok(accepted(req, state, v)),
        Err(e) => {
            if auth::is_key_failure(&e) {
                state.metrics.auth_failure();
                tracing::debug!(%client, "failed authentication counted");
                if state.limiter.record_failure(client, Instant::now()) {
                    tracing::warn!(
                        %client,
                        limit = state.limiter.limit(),
                        "client address throttled: too many failed authentications within a \
                         minute; until the minute ends it gets 429 for any key not verified \
                         before (good keys still pass)"
                    );
                }
            }
            Err(e)
        }
    }
}

/// Whether `account` may run `method` on `resource` in one of `shops`: the three checks below,
/// in PrestaShop's order. The dispatcher runs them one by one, with the language and the
/// resource name checked in between.
pub fn access(
    account: &Account,
    shops: &[u32],
    resource: &str,
    method: Method,
) -> Result<(), ApiError> {
    check_shops(account, shops)?;
    check_resource(account, resource)?;
    check_method(account, resource, method)
}

/// 132: the key is associated with none of the request's shops.
pub fn check_shops(account: &Account, shops: &[u32]) -> Result<(), ApiError> {
    if shops.iter().any(|s| account.shops.contains(s)) {
        Ok(())
    } else {
        Err(ApiError::key_not_on_shop())
    }
}

/// 26: the key has no permission at all on `resource`.
pub fn check_resource(account: &Account, resource: &str) -> Result<(), ApiError> {
    if account.knows(resource) {
        Ok(())
    } else {
        Err(ApiError::resource_not_allowed(resource))
    }
}

/// 25: the key may not run `method` on `resource`.
pub fn check_method(account: &Account, resource: &str, method: Method) -> Result<(), ApiError> {
    if account.allows(resource, method) {
        Ok(())
    } else {
        Err(ApiError::method_not_allowed_for_key(
            method.as_str(),
            resource,
        ))
    }
}

/// The key check a request repeats when the key store changed while it ran: its first data
/// statement returns the store's generation; a newer one empties the key cache and the key
/// is verified again, with its grants, before anything is answered or written.
#[derive(Clone)]
pub struct Guard {
    /// The key's id: a replica read waits for this key's last write (`db::replica`).
    pub key_id: u32,
    pub recheck: Recheck,
    pub shops: Vec<u32>,
    pub resource: &'static str,
    pub method: Method,
}

impl Guard {
    pub fn new(
        state: &AppState,
        key: &str,
        verified: &Verified,
        shops: &[u32],
        resource: &'static str,
        method: Method,
    ) -> Guard {
        Guard {
            key_id: verified.account.id,
            recheck: Recheck {
                key: key.to_owned(),
                generation: verified.generation,
                cache: state.keys.clone(),
                source: state.settings.auth_source,
                tables: state.tables.clone(),
            },
            shops: shops.to_vec(),
            resource,
            method,
        }
    }

    /// Called on the connection of the request's first data statement, with the generation
    /// that statement returned.
    pub fn confirm(
        &self,
        conn: &mut MysqlConnection,
        observed: Option<u64>,
    ) -> Result<(), ApiError> {
        if let Some(v) = self.recheck.blocking(conn, observed)? {
            access(&v.account, &self.shops, self.resource, self.method)?;
        }
        Ok(())
    }
}
