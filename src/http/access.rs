//! A request's key, checked in this order: the failure limit for the client's address first
//! (over it, only a key verified now or vouched for earlier goes on, through
//! [`auth::authenticate_known`]; any other gets 429 before any key look-up or argon2), then
//! [`auth::authenticate`]; a key-related failure (17, 18, 20, 21) counts against the address
//! (the failure that reaches the limit is logged at `warn`, once per window), a success marks
//! the key as used (written later by the background refresh).
//!
//! [`gate`] is the one pre-authentication gate every route passes (the webservice, both
//! bridges, the change feed): Host check, credential, shop configuration, webservice enabled,
//! this key check, and the route's permission; each route writes the gate's [`Denied`] in its
//! own format.
//!
//! Also [`Guard`]: the re-check a request makes when its first data statement shows that the
//! key store changed after its key was verified.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Instant;

use actix_web::http::header::{HeaderValue, AUTHORIZATION, X_FORWARDED_FOR};
use actix_web::{HttpMessage, HttpRequest};
use diesel::MysqlConnection;

use super::observe::{ClientAddress, DecodedPath, KeyId};
use super::request::{invalid_host_header, percent_decode, request_host};
use crate::auth::{self, credential, limit, Account, KeySource, Recheck, Verified};
use crate::db::shop::ShopSnapshot;
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

/// Checks the request's key (see the module documentation); only [`gate`] calls it.
async fn authenticate(
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

/// Why [`gate`] turned a request away; each route writes it in its own format
/// (`From<Denied>`). A missing or malformed credential is the route's own refusal (the
/// `key` argument of [`gate`]).
#[derive(Debug)]
pub enum Denied {
    /// `Host` or `X-Forwarded-Host` (named) is not a `host[:port]` of at most 255 bytes.
    BadHost(&'static str),
    /// The shop configuration has not been read yet (503, like an outage).
    NotReady,
    /// `PS_WEBSERVICE` is off for the request's shop (22).
    Disabled,
    /// The key check failed ([`authenticate`]: 17, 18, 20, 21, 429, or the database).
    Key(ApiError),
    /// The key may not run the route's method on its resource (26 or 25).
    Forbidden(ApiError),
}

/// PrestaShop's error document for each refusal.
impl From<Denied> for ApiError {
    fn from(r: Denied) -> ApiError {
        match r {
            Denied::BadHost(header) => ApiError::bad_host(header),
            Denied::NotReady => ApiError::unavailable("the shop configuration is not loaded yet"),
            Denied::Disabled => ApiError::webservice_disabled(),
            Denied::Key(e) | Denied::Forbidden(e) => e,
        }
    }
}

/// A request [`gate`] let in.
pub struct Admitted {
    /// The key as the request gave it (a [`Guard`] verifies it again).
    pub key: String,
    pub verified: Verified,
    /// The shop configuration the request is answered with.
    pub snapshot: Arc<ShopSnapshot>,
}

/// Who is asking, and may they: in this order, the `Host` and `X-Forwarded-Host` headers
/// (both are copied into answers), the route's credential (`key`: the route's own parsing and
/// refusal), the shop configuration (503 before it is first read), `PS_WEBSERVICE` of `shop`
/// (the request's shop; `None`: the one its host and path name), [`authenticate`] (the
/// failed-authentication limit, the key look-up, the access log's key id, the metrics), then
/// `need`, the resource and method the key must be granted (`None`: the route checks its
/// grants itself, as the webservice does in PrestaShop's order).
pub async fn gate<E: From<Denied>>(
    req: &HttpRequest,
    state: &AppState,
    shop: Option<u32>,
    key: impl FnOnce() -> Result<String, E>,
    need: Option<(&str, Method)>,
) -> Result<Admitted, E> {
    if let Some(header) = invalid_host_header(req) {
        return Err(Denied::BadHost(header).into());
    }
    let key = key()?;
    let snapshot = state.snapshot().ok_or(Denied::NotReady)?;
    let shop = shop.unwrap_or_else(|| request_shop(req, &snapshot));
    if !snapshot.webservice_enabled(shop) {
        return Err(Denied::Disabled.into());
    }
    let verified = authenticate(req, state, &key).await.map_err(Denied::Key)?;
    if let Some((resource, method)) = need {
        let account = &verified.account;
        check_resource(account, resource)
            .and_then(|()| check_method(account, resource, method))
            .map_err(Denied::Forbidden)?;
    }
    Ok(Admitted {
        key,
        verified,
        snapshot,
    })
}

/// The webservice's key (absent: 16): the Basic user name of `Authorization`, else of a
/// forwarded copy (`THREADGATE_FORWARDED_AUTH_HEADERS`), else `ws_key`.
pub fn request_key(req: &HttpRequest, state: &AppState, ws_key: Option<&str>) -> Option<String> {
    let headers = req.headers();
    let forwarded = state
        .settings
        .forwarded_auth_headers
        .iter()
        .filter_map(|name| headers.get(name.as_str()).map(HeaderValue::as_bytes));
    credential::find_key(
        headers.get(AUTHORIZATION).map(HeaderValue::as_bytes),
        forwarded,
        ws_key,
    )
}

/// The `Authorization` value as it is (trimmed, not empty), or a forwarded copy when a proxy
/// renamed it: the bridges read their own schemes from it.
pub fn authorization<'a>(req: &'a HttpRequest, state: &AppState) -> Option<&'a str> {
    let h = req.headers();
    h.get(AUTHORIZATION)
        .or_else(|| {
            state
                .settings
                .forwarded_auth_headers
                .iter()
                .find_map(|n| h.get(n.as_str()))
        })
        .and_then(|v: &HeaderValue| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// The shop the request's host and path name (docs/compatibility.md, "The shop of a request").
/// The path is the one the access log's middleware decoded, when it ran.
fn request_shop(req: &HttpRequest, snapshot: &ShopSnapshot) -> u32 {
    let host = request_host(req.headers());
    match req.extensions().get::<DecodedPath>() {
        Some(decoded) => snapshot.shop_for_request(&host, &decoded.0),
        None => snapshot.shop_for_request(&host, &percent_decode(req.path())),
    }
    .shop
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
