//! POST, PUT, PATCH and DELETE (docs/prestashop/writes.md, docs/compatibility.md W9, W12–W15, W22,
//! W23). Parsing lives in `ingest`, the rules in `validate` and `resource::store`, the SQL in
//! `db::writes`; this file only orders the steps and runs every write of a request in one
//! transaction, whose last statement appends the write's events (`db::events::append`,
//! docs/events.md).

use diesel::Connection;

use super::access::Guard;
use super::response::{self, Ctx};
use crate::db::reads::{self, Columns};
use crate::db::{self, events as event_log, writes};
use crate::error::{ApiError, DbError};
use crate::events::{self, Kind, NewEvent, Source};
use crate::ingest::EntityInput;
use crate::php;
use crate::query::{Display, Param, Params};
use crate::render;
use crate::resource::store::{self, StoredValue};
use crate::resource::{Entity, FieldType, Method, ResourceDef};
use crate::state::AppState;
use crate::validate;

/// A failure inside a write transaction: an API error to answer, or a database error (500
/// code 46). Either way the transaction is rolled back, except when the connection was lost
/// during COMMIT or the database stopped answering: then nobody knows ([`finish`]).
#[derive(Debug)]
enum TxError {
    Api(ApiError),
    Db(diesel::result::Error),
    /// The database is unavailable (no connection, no answer in time).
    Unavailable(DbError),
}

impl std::fmt::Display for TxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TxError::Api(e) => e.fmt(f),
            TxError::Db(e) => e.fmt(f),
            TxError::Unavailable(e) => e.fmt(f),
        }
    }
}

impl From<diesel::result::Error> for TxError {
    fn from(e: diesel::result::Error) -> TxError {
        TxError::Db(e)
    }
}

impl From<DbError> for TxError {
    fn from(e: DbError) -> TxError {
        match e {
            DbError::Query(q) => TxError::Db(q),
            DbError::Cancelled => TxError::Api(ApiError::from(e)),
            other => TxError::Unavailable(other),
        }
    }
}

impl db::Fault for TxError {
    fn unavailable_cause(&self) -> Option<String> {
        match self {
            TxError::Api(e) => e.unavailable_cause(),
            TxError::Db(e) => db::fault::connection_lost(e).then(|| e.to_string()),
            TxError::Unavailable(e) => Some(e.to_string()),
        }
    }
}

impl From<TxError> for ApiError {
    fn from(e: TxError) -> ApiError {
        match e {
            TxError::Api(e) => e,
            TxError::Db(e) if db::fault::connection_lost(&e) => {
                ApiError::unavailable(e.to_string())
            }
            TxError::Db(e) => {
                tracing::error!(error = %e, "write failed, rolled back");
                ApiError::save_failed()
            }
            TxError::Unavailable(e) => ApiError::unavailable(e.to_string()),
        }
    }
}

/// A failed write transaction and where it stood.
#[derive(Debug)]
struct TxFailure {
    error: TxError,
    stage: Stage,
}

impl From<DbError> for TxFailure {
    fn from(e: DbError) -> TxFailure {
        TxFailure {
            error: TxError::from(e),
            stage: Stage::Statements,
        }
    }
}

impl db::Fault for TxFailure {
    fn unavailable_cause(&self) -> Option<String> {
        self.error.unavailable_cause()
    }
}

/// Where a write transaction stood when it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Still running its statements: a failure rolls everything back.
    Statements,
    /// Its statements succeeded and COMMIT was sent.
    Commit,
}

/// The answer to a write that failed, and the log line when its outcome is unknown: the
/// connection died during COMMIT (the server may have committed before it went), or the
/// database stopped answering while the transaction ran (it may still commit). Either is
/// answered 503, never as a success and never as a rollback.
fn finish(e: TxError, stage: Stage, method: &str) -> ApiError {
    use db::Fault;
    let unknown = match (&e, stage) {
        (TxError::Unavailable(DbError::TimedOut(_)), _) => true,
        (e, Stage::Commit) => e.is_unavailable(),
        _ => false,
    };
    if unknown {
        tracing::error!(
            method,
            error = %e,
            "write outcome unknown: the database was lost during COMMIT or did not answer in time; answered 503"
        );
    }
    ApiError::from(e)
}

/// What a write tells the event log (docs/events.md): whether events are on
/// (`THREADGATE_EVENTS`), the key that wrote, and whether a created message's customer may be
/// e-mailed (`notify_customer=0` or `X-Threadgate-Notify-Customer: 0` says no).
#[derive(Debug, Clone, Copy)]
pub struct Outbox {
    pub enabled: bool,
    pub key: u32,
    pub notify_customer: bool,
}

/// Who writes: the key's guard (confirmed inside the transaction) and what its write appends
/// to the event log.
pub struct Writer {
    pub guard: Guard,
    pub outbox: Outbox,
}

/// Whether a created message's customer may be e-mailed: yes unless the request parameter
/// `notify_customer` or the header `X-Threadgate-Notify-Customer` says `0` (or `false`,
/// `no`, `off`); the parameter wins.
pub fn notify_customer(param: Option<&str>, header: Option<&str>) -> bool {
    let off = |v: &str| {
        let v = v.trim();
        ["0", "false", "no", "off"]
            .iter()
            .any(|o| v.eq_ignore_ascii_case(o))
    };
    match (param, header) {
        (Some(p), _) => !off(p),
        (None, Some(h)) => !off(h),
        (None, None) => true,
    }
}

/// The data generation's bump, then `new` appended as the transaction's last statement: the
/// append row is one lock for every writer (appends are serialised, docs/events.md), so it is
/// taken last and held the shortest time.
fn append_last(
    conn: &mut diesel::MysqlConnection,
    tables: &db::Tables,
    new: &[NewEvent],
) -> Result<(), TxError> {
    writes::bump_data_generation(conn, tables)?;
    event_log::append(conn, tables, new)?;
    Ok(())
}

/// POST, PUT and PATCH of the body's entities (`ingest::parse` or `ingest::parse_json`).
pub async fn save(
    state: &AppState,
    res: &'static ResourceDef,
    method: Method,
    entities: Vec<EntityInput>,
    ctx: &Ctx,
    base: &str,
    writer: Writer,
) -> Result<actix_web::HttpResponse, ApiError> {
    check_ids(&entities, method)?;
    let Writer { guard, outbox } = writer;
    let now = state.shop_now();
    let tables = state.tables.clone();
    let metrics = state.metrics.clone();
    // Bumped on the blocking thread right after COMMIT, so a request cancelled meanwhile
    // still tells the bridges' caches (and, with a replica, its key's reads).
    let written = state.committed(guard.key_id);
    let stored: Vec<Entity> = db::run(&state.pool, move |conn| {
        let mut stage = Stage::Statements;
        conn.transaction::<_, TxError, _>(|conn| {
            let ids: Vec<i64> = entities
                .iter()
                .map(|e| php::int_cast(e.id().unwrap_or("")))
                .collect();
            // The key is confirmed against the generation the first statement returns: the
            // existence check of a PUT/PATCH, the read-back of a POST's first row. A key
            // revoked meanwhile gets its 401 and the transaction rolls back: nothing written.
            let mut unconfirmed = true;
            if method != Method::Post {
                let (found, generation) = writes::existing(conn, &tables, res, &ids)?;
                guard
                    .confirm(conn, Some(generation))
                    .map_err(TxError::Api)?;
                unconfirmed = false;
                if ids.iter().any(|id| !found.contains(id)) {
                    return Err(TxError::Api(ApiError::invalid_id()));
                }
            }
            let cols = Columns::for_display(res, &Display::Full);
            // The stored fields without associations: a row before and after its change.
            let bare = Columns {
                fields: (0..res.fields.len()).collect(),
                associations: false,
            };
            let mut rows = Vec::with_capacity(entities.len());
            let mut befores = Vec::new();
            for (entity, id) in entities.iter().zip(&ids) {
                let values = entity.values_for(res);
                validate::entity::check(res, &values, method == Method::Patch)
                    .map_err(TxError::Api)?;
                for a in &entity.associations {
                    if a != "i18n" && res.association(a).is_none() {
                        return Err(TxError::Api(ApiError::unknown_association(a)));
                    }
                }
                let columns = columns(res, method, &values, &now);
                let cacheable = method != Method::Patch;
                let (row, generation) = if method == Method::Post {
                    writes::insert(conn, &tables, res, &columns, cacheable)?;
                    reads::last_inserted(conn, &tables, res, &cols)?
                } else {
                    if outbox.enabled {
                        // Locked by `existing` already: this is the row the update replaces.
                        let (before, _) = reads::single(conn, &tables, res, &bare, *id)?;
                        befores.push(before.ok_or(diesel::result::Error::NotFound)?.values);
                    }
                    writes::update(conn, &tables, res, *id, &columns, cacheable)?;
                    reads::single(conn, &tables, res, &cols, *id)?
                };
                if unconfirmed {
                    guard.confirm(conn, generation).map_err(TxError::Api)?;
                    unconfirmed = false;
                }
                rows.push(row.ok_or(diesel::result::Error::NotFound)?);
            }
            let new = if outbox.enabled {
                saved_events(conn, &tables, res, method, &befores, &rows, outbox)?
            } else {
                Vec::new()
            };
            append_last(conn, &tables, &new)?;
            stage = Stage::Commit;
            Ok((rows, new.len()))
        })
        .map_err(|error| TxFailure { error, stage })
        .map(|(rows, appended)| {
            written.bump(conn);
            metrics.events_appended("api", appended);
            rows
        })
    })
    .await
    .map_err(|f| finish(f.error, f.stage, method.as_str()))?;
    let mut body = Vec::with_capacity(1024);
    render::written(&mut body, ctx.format, res, &stored, base, ctx.plural_json);
    Ok(response::ok(
        ctx,
        if method == Method::Post { 201 } else { 200 },
        body,
    ))
}

/// The events of a POST, PUT or PATCH: `rows` as stored, `befores` the rows they replaced
/// (PUT/PATCH), in the body's order.
fn saved_events(
    conn: &mut diesel::MysqlConnection,
    tables: &db::Tables,
    res: &ResourceDef,
    method: Method,
    befores: &[Vec<Option<String>>],
    rows: &[Entity],
    outbox: Outbox,
) -> Result<Vec<NewEvent>, diesel::result::Error> {
    let names: Vec<&'static str> = res.fields.iter().map(|f| f.name).collect();
    let value = |row: &Entity, name: &str| -> String {
        res.field_index(name)
            .and_then(|i| row.values.get(i).cloned().flatten())
            .unwrap_or_default()
    };
    let number = |row: &Entity, name: &str| -> u64 { value(row, name).parse().unwrap_or(0) };
    let source = Source::Api { key: outbox.key };
    let threads = res.name == "customer_threads";
    let shops = if threads {
        Default::default()
    } else {
        let ids: Vec<u64> = rows
            .iter()
            .map(|r| number(r, "id_customer_thread"))
            .collect();
        event_log::thread_shops(conn, tables, &ids)?
    };
    let mut out = Vec::with_capacity(rows.len());
    for (n, row) in rows.iter().enumerate() {
        let id = number(row, "id") as u32;
        let changed = befores
            .get(n)
            .map(|b| {
                events::changed_fields(&names, b, &row.values[..names.len().min(row.values.len())])
            })
            .unwrap_or_default();
        let event = if threads {
            let status = value(row, "status");
            let date_upd = value(row, "date_upd");
            NewEvent {
                kind: if method == Method::Post {
                    Kind::ThreadCreated
                } else {
                    Kind::ThreadUpdated
                },
                thread: id,
                message: None,
                shop: number(row, "id_shop") as u32,
                source,
                data: Some(if method == Method::Post {
                    events::thread_data(None, &status, &date_upd)
                } else {
                    events::thread_data(Some(&changed), &status, &date_upd)
                }),
            }
        } else {
            let thread = number(row, "id_customer_thread");
            NewEvent {
                kind: if method == Method::Post {
                    Kind::MessageCreated
                } else {
                    Kind::MessageUpdated
                },
                thread: thread as u32,
                message: Some(id),
                shop: shops.get(&thread).copied().unwrap_or(0),
                source,
                data: Some(if method == Method::Post {
                    events::message_created_data(
                        number(row, "id_employee"),
                        number(row, "private") != 0,
                        outbox.notify_customer,
                    )
                } else {
                    events::changed_data(&changed)
                }),
            }
        };
        out.push(event);
    }
    Ok(out)
}

/// The events of a DELETE of `ids` (found, sorted): a thread's messages go with it, each
/// with its `message.deleted` before the thread's `thread.deleted`.
fn deleted_events(
    conn: &mut diesel::MysqlConnection,
    tables: &db::Tables,
    res: &ResourceDef,
    ids: &[i64],
    outbox: Outbox,
) -> Result<Vec<NewEvent>, diesel::result::Error> {
    let source = Source::Api { key: outbox.key };
    let ids: Vec<u64> = ids.iter().map(|&i| i as u64).collect();
    let threads = res.name == "customer_threads";
    let messages = event_log::messages_of(conn, tables, &ids, threads)?;
    let mut out: Vec<NewEvent> = Vec::with_capacity(messages.len() + ids.len());
    let message_event = |(id, thread, shop): (u64, u64, u32)| NewEvent {
        kind: Kind::MessageDeleted,
        thread: thread as u32,
        message: Some(id as u32),
        shop,
        source,
        data: None,
    };
    if threads {
        let shops = event_log::thread_shops(conn, tables, &ids)?;
        for &t in &ids {
            out.extend(
                messages
                    .iter()
                    .filter(|m| m.1 == t)
                    .map(|&m| message_event(m)),
            );
            out.push(NewEvent {
                kind: Kind::ThreadDeleted,
                thread: t as u32,
                message: None,
                shop: shops.get(&t).copied().unwrap_or(0),
                source,
                data: None,
            });
        }
    } else {
        out.extend(messages.into_iter().map(message_event));
    }
    Ok(out)
}

/// Id rules over all entities (docs/prestashop/writes.md#per-entity-processing step 1): 91 on POST,
/// 89 and 90 on PUT/PATCH.
fn check_ids(entities: &[EntityInput], method: Method) -> Result<(), ApiError> {
    if method == Method::Post {
        if entities.iter().any(|e| e.id().is_some()) {
            return Err(ApiError::id_forbidden());
        }
        return Ok(());
    }
    let mut seen = Vec::with_capacity(entities.len());
    for e in entities {
        let id = e.id().ok_or_else(ApiError::id_required)?;
        if seen.contains(&id) {
            return Err(ApiError::id_duplicate());
        }
        seen.push(id);
    }
    Ok(())
}

/// The columns to write, with PrestaShop's values
/// (docs/prestashop/writes.md#statuses-tokens-and-dates,
/// docs/prestashop/writes.md#per-entity-processing step 3): POST and PUT write every field (an
/// omitted one as PrestaShop stores it), PATCH only the sent ones (W15); the dates are the shop's
/// now, except a sent `date_add` on PUT/PATCH, and an omitted one on PUT/PATCH is not written, so
/// it keeps its stored value (W23).
fn columns(
    res: &ResourceDef,
    method: Method,
    values: &[Option<String>],
    now: &str,
) -> Vec<(usize, StoredValue)> {
    let mut out = Vec::with_capacity(res.fields.len());
    for (i, f) in res.fields.iter().enumerate().skip(1) {
        let sent = values[i].as_deref();
        let value = match (f.kind, f.name) {
            (FieldType::Date, "date_upd") => StoredValue::Text(now.to_owned()),
            (FieldType::Date, _) => match (method, sent) {
                (Method::Post, _) | (_, Some("")) => StoredValue::Text(now.to_owned()),
                (_, Some(v)) => StoredValue::Text(v.to_owned()),
                (_, None) => continue,
            },
            _ if method == Method::Patch && sent.is_none() => continue,
            _ => store::stored(res, f, sent),
        };
        out.push((i, value));
    }
    out
}

/// DELETE (docs/prestashop/writes.md#delete, W9): the ids of `?id=[a,b]` (`,` or `|`), of `?id=5`,
/// else the path's; all or nothing when one is missing (404 code 87 naming them); a thread's
/// messages go with it.
pub async fn delete(
    state: &AppState,
    res: &'static ResourceDef,
    path_id: Option<&str>,
    params: &Params,
    ctx: &Ctx,
    writer: Writer,
) -> Result<actix_web::HttpResponse, ApiError> {
    let Writer { guard, outbox } = writer;
    let sent = delete_ids(params, path_id);
    let tables = state.tables.clone();
    let metrics = state.metrics.clone();
    let written = state.committed(guard.key_id);
    db::run(&state.pool, move |conn| {
        let mut stage = Stage::Statements;
        conn.transaction::<_, TxError, _>(|conn| {
            let ids: Vec<i64> = sent.iter().map(|s| php::int_cast(s)).collect();
            let (found, generation) = writes::existing(conn, &tables, res, &ids)?;
            guard
                .confirm(conn, Some(generation))
                .map_err(TxError::Api)?;
            let missing: Vec<String> = sent
                .iter()
                .zip(&ids)
                .filter(|(_, id)| !found.contains(id))
                .map(|(s, _)| s.clone())
                .collect();
            if !missing.is_empty() || sent.is_empty() {
                return Err(TxError::Api(ApiError::ids_not_found(&missing)));
            }
            let mut unique = found;
            unique.sort_unstable();
            unique.dedup();
            // Read before the rows go: which messages a thread takes with it, and the shops.
            let new = if outbox.enabled {
                deleted_events(conn, &tables, res, &unique, outbox)?
            } else {
                Vec::new()
            };
            let deleted = writes::delete(conn, &tables, res, &unique)?;
            if deleted != unique.len() {
                return Err(TxError::Api(ApiError::delete_failed(&sent)));
            }
            append_last(conn, &tables, &new)?;
            stage = Stage::Commit;
            Ok(new.len())
        })
        .map_err(|error| TxFailure { error, stage })
        .map(|appended| {
            written.bump(conn);
            metrics.events_appended("api", appended);
        })
    })
    .await
    .map_err(|f| finish(f.error, f.stage, "DELETE"))?;
    Ok(response::empty(ctx, 200))
}

/// The ids a DELETE names, as the client wrote them.
fn delete_ids(params: &Params, path_id: Option<&str>) -> Vec<String> {
    match params.get("id") {
        Some(Param::Str(v)) => {
            let inner = v
                .strip_prefix('[')
                .and_then(|s| s.strip_suffix(']'))
                .unwrap_or(v);
            inner.split([',', '|']).map(str::to_owned).collect()
        }
        Some(Param::Map(items)) => items
            .iter()
            .filter_map(|(_, p)| match p {
                Param::Str(s) => Some(s.clone()),
                Param::Map(_) => None,
            })
            .collect(),
        None => vec![path_id.unwrap_or("0").to_owned()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::result::{DatabaseErrorKind, Error};

    fn db_error(message: &str) -> TxError {
        TxError::Db(Error::DatabaseError(
            DatabaseErrorKind::Unknown,
            Box::new(message.to_owned()),
        ))
    }

    #[test]
    fn a_connection_lost_during_commit_or_a_timeout_is_503_never_a_rollback_answer() {
        let lost = "Lost connection to server during query";
        for (e, stage) in [
            (db_error(lost), Stage::Commit),
            (db_error(lost), Stage::Statements),
            (
                TxError::Unavailable(DbError::TimedOut(std::time::Duration::from_secs(8))),
                Stage::Statements,
            ),
        ] {
            let answer = finish(e, stage, "POST");
            assert_eq!((answer.status, answer.retry_after), (503, Some(2)));
            assert_eq!(answer.errors[0].message, crate::error::UNAVAILABLE_MESSAGE);
        }
        // A statement's own failure rolls the transaction back: 500 code 46, as before.
        let answer = finish(db_error("Duplicate entry"), Stage::Statements, "POST");
        assert_eq!((answer.status, answer.errors[0].code), (500, 46));
    }

    #[test]
    fn delete_ids_come_from_the_id_parameter_first() {
        let p = |q: &str| Params::parse(q);
        assert_eq!(delete_ids(&p("id=[5,6]"), Some("1")), ["5", "6"]);
        assert_eq!(delete_ids(&p("id=[5|6]"), None), ["5", "6"]);
        assert_eq!(delete_ids(&p("id=5"), None), ["5"]);
        assert_eq!(delete_ids(&p(""), Some("7")), ["7"]);
        assert_eq!(delete_ids(&p(""), None), ["0"]);
        assert_eq!(delete_ids(&p("id=[a,%205]"), None), ["a", " 5"]);
    }

    #[test]
    fn customers_are_notified_unless_the_request_says_no() {
        assert!(notify_customer(None, None));
        assert!(!notify_customer(Some("0"), None));
        assert!(!notify_customer(None, Some(" false ")));
        assert!(notify_customer(Some("1"), Some("0")));
        assert!(!notify_customer(Some("OFF"), Some("1")));
    }
}
