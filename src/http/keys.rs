//! A request's key, checked in the order the issue asks: the failure limit for the client's
//! address first (429 before any key look-up or argon2), then [`auth::authenticate`]; a
//! key-related failure (17, 18, 20, 21) counts against the address, a success marks the key
//! as used (written later by the background refresh).
//!
//! Also [`Guard`]: the re-check a request makes when its first data statement shows that the
//! key store changed after its key was verified.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use actix_web::HttpRequest;
use diesel::MysqlConnection;

use crate::auth::{self, limit, Account, KeySource, Recheck, Verified};
use crate::error::ApiError;
use crate::resource::Method;
use crate::state::AppState;

/// The client's address: the TCP peer, or with trusted proxies configured, the last
/// untrusted `X-Forwarded-For` hop.
pub fn client_address(req: &HttpRequest, state: &AppState) -> IpAddr {
    let peer = req
        .peer_addr()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip());
    let forwarded = req
        .headers()
        .get_all("X-Forwarded-For")
        .filter_map(|v| v.to_str().ok());
    limit::client_address(peer, &state.settings.trusted_proxies, forwarded)
}

/// Checks the request's key (see the module documentation).
pub async fn authenticate(
    req: &HttpRequest,
    state: &AppState,
    key: &str,
) -> Result<Verified, ApiError> {
    let client = client_address(req, state);
    if let Err(seconds) = state.limiter.check(client, Instant::now()) {
        return Err(ApiError::too_many_failures(seconds));
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
        Ok(v) => {
            if v.account.source == KeySource::Own {
                state.usage.record(v.account.id, Instant::now());
            }
            Ok(v)
        }
        Err(e) => {
            if auth::is_key_failure(&e) {
                tracing::debug!(%client, "failed authentication counted");
                state.limiter.record_failure(client, Instant::now());
            }
            Err(e)
        }
    }
}

/// Whether `account` may run `method` on `resource` in one of `shops`
/// (docs/prestashop/authentication.md#permissions, docs/prestashop/requests.md#shops).
pub fn access(
    account: &Account,
    shops: &[u32],
    resource: &str,
    method: Method,
) -> Result<(), ApiError> {
    if !shops.iter().any(|s| account.shops.contains(s)) {
        return Err(ApiError::key_not_on_shop());
    }
    if !account.knows(resource) {
        return Err(ApiError::resource_not_allowed(resource));
    }
    if !account.allows(resource, method) {
        return Err(ApiError::method_not_allowed_for_key(
            method.as_str(),
            resource,
        ));
    }
    Ok(())
}

/// The key check a request repeats when the key store changed while it ran: its first data
/// statement returns the store's generation; a newer one empties the key cache and the key
/// is verified again, with its grants, before anything is answered or written.
#[derive(Clone)]
pub struct Guard {
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
