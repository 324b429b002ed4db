//! POST, PUT, PATCH and DELETE (docs/prestashop/writes.md, docs/compatibility.md W9, W12–W15, W22,
//! W23). Parsing lives in `ingest`, the rules in `validate` and `resource::store`, the SQL in
//! `db::writes`; this file only orders the steps and runs every write of a request in one
//! transaction, whose last statement appends the write's events (`db::events::append`,
//! docs/events.md).

use diesel::MysqlConnection;

use super::access::Guard;
use super::response::{self, Ctx};
use crate::config::on_off;
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
    if outcome_unknown(&e, stage) {
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
/// `no`, `off`: `config::on_off`); the parameter wins.
pub fn notify_customer(param: Option<&str>, header: Option<&str>) -> bool {
    let off = |v: &str| on_off(v) == Some(false);
    match (param, header) {
        (Some(p), _) => !off(p),
        (None, Some(h)) => !off(h),
        (None, None) => true,
    }
}

/// The write's signal to every node's bridges' cache, as the transaction's last statement:
/// `new` appended (one kept prepared statement for one event; its thread's shop read by it for
/// messages), whose id moves the data generation (the log's highest id is part of it:
/// `db::shop::data_generation_sql`); or, when there is nothing to append (events off), a bump
/// of a data generation counter (docs/architecture.md, "Several nodes, one truth"). The append
/// shares no lock with other writers; readers of the log wait for an event that commits after
/// a higher id (docs/events.md, "Ordering").
fn append_last(
    conn: &mut MysqlConnection,
    tables: &db::Tables,
    new: &[NewEvent],
    shops_of_threads: bool,
) -> Result<(), TxError> {
    if new.is_empty() {
        writes::bump_data_generation(conn, tables)?;
    } else if shops_of_threads {
        event_log::append_in_thread_shops(conn, tables, new)?;
    } else {
        event_log::append(conn, tables, new)?;
    }
    Ok(())
}

/// Whether a failed write may have committed all the same (see [`finish`]).
fn outcome_unknown(e: &TxError, stage: Stage) -> bool {
    use db::Fault;
    match (e, stage) {
        (TxError::Unavailable(DbError::TimedOut(_)), _) => true,
        (e, Stage::Commit) => e.is_unavailable(),
        _ => false,
    }
}

/// Runs `f` in one transaction ([`writes::begin`] .. [`writes::commit`]); any failure rolls it
/// back. A connection found lost is not rolled back (the server rolls back a transaction whose
/// connection closes, and `db::run` discards the connection); a ROLLBACK that fails on a live
/// connection makes the failure an outage, so that connection is discarded too and never goes
/// back to the pool inside a transaction.
fn transaction<T>(
    conn: &mut MysqlConnection,
    f: impl FnOnce(&mut MysqlConnection) -> Result<T, TxError>,
) -> Result<T, TxFailure> {
    writes::begin(conn).map_err(|e| TxFailure {
        error: TxError::Db(e),
        stage: Stage::Statements,
    })?;
    let (result, stage) = match f(conn) {
        Ok(v) => (
            writes::commit(conn).map(|()| v).map_err(TxError::Db),
            Stage::Commit,
        ),
        Err(e) => (Err(e), Stage::Statements),
    };
    result.map_err(|error| ended(error, stage, || writes::rollback(conn)))
}

/// A transaction that failed at `stage`: rolled back with `rollback` unless its connection was
/// found lost (a COMMIT that failed so is left to [`finish`]: its outcome is unknown).
fn ended(
    error: TxError,
    stage: Stage,
    rollback: impl FnOnce() -> diesel::QueryResult<()>,
) -> TxFailure {
    use db::Fault;
    let error = if error.is_unavailable() {
        error
    } else {
        match rollback() {
            Ok(()) => error,
            Err(e) => {
                tracing::error!(error = %error, rollback = %e, "ROLLBACK failed; the connection is discarded");
                TxError::Unavailable(DbError::Unavailable(format!("ROLLBACK failed: {e}")))
            }
        }
    };
    TxFailure { error, stage }
}

/// A row's stored fields, before a PUT or PATCH replaced them.
type Stored = Vec<Option<String>>;

/// An entity checked in memory, before any statement: the columns to write.
type Planned = Vec<(usize, Option<StoredValue>)>;

/// Checks an entity (its fields, docs/compatibility.md W13, and its associations) and plans its columns.
fn plan(
    res: &ResourceDef,
    method: Method,
    entity: &EntityInput,
    now: &str,
) -> Result<Planned, ApiError> {
    let values = entity.values_for(res);
    validate::entity::check(res, &values, method == Method::Patch)?;
    for a in &entity.associations {
        if a != "i18n" && res.association(a).is_none() {
            return Err(ApiError::unknown_association(a));
        }
    }
    Ok(columns(res, method, &values, now))
}

/// POST, PUT and PATCH of the body's entities (`ingest::parse` or `ingest::parse_json`).
///
/// Every entity is checked in memory first. On success the transaction is, per entity, its
/// write and its read-back (the stored row as a GET returns it, docs/compatibility.md W12, with
/// the key store's generation), the data generation's bump, then COMMIT: one round trip each
/// (docs/architecture.md, "Writes: statements per write"). A PUT or PATCH whose id does not
/// exist finds no row to read back and is answered 404 code 92, rolled back. A refused entity costs no write: a POST answers
/// at once; a PUT or PATCH first looks its ids up (a missing id is answered first, as
/// PrestaShop looks every object up before validating any).
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
    let now = state.shop_now();
    let ids: Vec<i64> = entities
        .iter()
        .map(|e| php::int_cast(e.id().unwrap_or("")))
        .collect();
    let planned: Result<Vec<Planned>, ApiError> = entities
        .iter()
        .map(|e| plan(res, method, e, &now))
        .collect();
    if method == Method::Post {
        if let Err(e) = planned {
            return Err(e);
        }
    }
    let tables = state.tables.clone();
    let metrics = state.metrics.clone();
    // Bumped on the blocking thread right after COMMIT, so a request cancelled meanwhile
    // still tells the bridges' caches (and, with a replica, its key's reads).
    let written = state.committed(writer.guard.key_id);
    let stored: Vec<Entity> = db::run(&state.pool, move |conn| {
        transaction(conn, |conn| {
            let planned = match planned {
                Ok(p) => p,
                Err(refused) => {
                    return Err(refusal(conn, &tables, res, &ids, &writer.guard, refused))
                }
            };
            let (rows, befores) = write_rows(conn, &tables, res, method, &planned, &ids, &writer)?;
            let new = if writer.outbox.enabled {
                saved_events(res, method, &befores, &rows, writer.outbox)
            } else {
                Vec::new()
            };
            // Further statements of this write's transaction go before `append_last`: each a
            // kept prepared statement of a fixed shape (`db::writes`), one round trip.
            append_last(conn, &tables, &new, res.name == "customer_messages")?;
            Ok((rows, new.len()))
        })
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
/// (PUT/PATCH), in the body's order. A message's shop is left 0: the append reads its thread's.
fn saved_events(
    res: &ResourceDef,
    method: Method,
    befores: &[Vec<Option<String>>],
    rows: &[Entity],
    outbox: Outbox,
) -> Vec<NewEvent> {
    let names: Vec<&'static str> = res.fields.iter().map(|f| f.name).collect();
    let value = |row: &Entity, name: &str| -> String {
        res.field_index(name)
            .and_then(|i| row.values.get(i).cloned().flatten())
            .unwrap_or_default()
    };
    let number = |row: &Entity, name: &str| -> u64 { value(row, name).parse().unwrap_or(0) };
    let source = Source::Api { key: outbox.key };
    let created = method == Method::Post;
    let mut out = Vec::with_capacity(rows.len());
    for (n, row) in rows.iter().enumerate() {
        let id = number(row, "id") as u32;
        let changed = befores
            .get(n)
            .map(|b| {
                events::changed_fields(&names, b, &row.values[..names.len().min(row.values.len())])
            })
            .unwrap_or_default();
        let event = if res.name == "customer_threads" {
            let (status, date_upd) = (value(row, "status"), value(row, "date_upd"));
            NewEvent {
                kind: if created {
                    Kind::ThreadCreated
                } else {
                    Kind::ThreadUpdated
                },
                thread: id,
                message: None,
                shop: number(row, "id_shop") as u32,
                source,
                data: Some(events::thread_data(
                    (!created).then_some(&changed[..]),
                    &status,
                    &date_upd,
                )),
            }
        } else {
            NewEvent {
                kind: if created {
                    Kind::MessageCreated
                } else {
                    Kind::MessageUpdated
                },
                thread: number(row, "id_customer_thread") as u32,
                message: Some(id),
                shop: 0,
                source,
                data: Some(if created {
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
    out
}

/// The events of a DELETE of `ids` (found, sorted): a thread's messages go with it, each
/// with its `message.deleted` before the thread's `thread.deleted`.
fn deleted_events(
    conn: &mut MysqlConnection,
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

/// The answer to a PUT or PATCH with a refused entity: 404 code 92 when one of its ids does not
/// exist (looked up `FOR UPDATE`, with the key confirmed first), else the refusal.
fn refusal(
    conn: &mut MysqlConnection,
    tables: &db::Tables,
    res: &ResourceDef,
    ids: &[i64],
    guard: &Guard,
    refused: ApiError,
) -> TxError {
    let found = writes::existing(conn, tables, res, ids)
        .map_err(TxError::Db)
        .and_then(|(found, generation)| {
            guard
                .confirm(conn, Some(generation))
                .map_err(TxError::Api)?;
            Ok(found)
        });
    match found {
        Err(e) => e,
        Ok(found) if ids.iter().any(|id| !found.contains(id)) => {
            TxError::Api(ApiError::invalid_id())
        }
        Ok(_) => TxError::Api(refused),
    }
}

/// Per entity, its write and its read-back (the stored row as a GET returns it); with events
/// on, a PUT or PATCH first reads the row it replaces, locked (returned, for the events'
/// `changed`). The key is confirmed against the generation the first read-back returns: a key
/// revoked meanwhile gets its 401 and the transaction rolls back, nothing written.
fn write_rows(
    conn: &mut MysqlConnection,
    tables: &db::Tables,
    res: &ResourceDef,
    method: Method,
    planned: &[Planned],
    ids: &[i64],
    writer: &Writer,
) -> Result<(Vec<Entity>, Vec<Stored>), TxError> {
    let cols = Columns::for_display(res, &Display::Full);
    let mut rows = Vec::with_capacity(planned.len());
    let mut befores = Vec::new();
    let mut unconfirmed = true;
    for (columns, id) in planned.iter().zip(ids) {
        let (row, generation) = if method == Method::Post {
            let values: Vec<(usize, StoredValue)> = columns
                .iter()
                .filter_map(|(i, v)| Some((*i, v.clone()?)))
                .collect();
            writes::insert(conn, tables, res, &values, true)?;
            reads::last_inserted(conn, tables, res, &cols)?
        } else {
            if writer.outbox.enabled {
                match reads::locked_fields(conn, tables, res, *id)? {
                    Some(before) => befores.push(before),
                    None => return Err(TxError::Api(ApiError::invalid_id())),
                }
            }
            writes::update(conn, tables, res, *id, columns)?;
            reads::single(conn, tables, res, &cols, *id)?
        };
        if unconfirmed {
            writer
                .guard
                .confirm(conn, generation)
                .map_err(TxError::Api)?;
            unconfirmed = false;
        }
        match row {
            Some(row) => rows.push(row),
            None if method == Method::Post => {
                return Err(TxError::Db(diesel::result::Error::NotFound))
            }
            None => return Err(TxError::Api(ApiError::invalid_id())),
        }
    }
    Ok((rows, befores))
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
/// it keeps its stored value (W23). A column that keeps its stored value is listed with `None`
/// (`db::writes::update`); POST has none.
fn columns(
    res: &ResourceDef,
    method: Method,
    values: &[Option<String>],
    now: &str,
) -> Vec<(usize, Option<StoredValue>)> {
    let mut out = Vec::with_capacity(res.fields.len());
    for (i, f) in res.fields.iter().enumerate().skip(1) {
        let sent = values[i].as_deref();
        let value = match (f.kind, f.name) {
            (FieldType::Date, "date_upd") => StoredValue::Text(now.to_owned()),
            (FieldType::Date, _) => match (method, sent) {
                (Method::Post, _) | (_, Some("")) => StoredValue::Text(now.to_owned()),
                (_, Some(v)) => StoredValue::Text(v.to_owned()),
                (_, None) => {
                    out.push((i, None));
                    continue;
                }
            },
            _ if method == Method::Patch && sent.is_none() => {
                out.push((i, None));
                continue;
            }
            _ => store::stored(res, f, sent),
        };
        out.push((i, Some(value)));
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
        transaction(conn, |conn| {
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
            append_last(conn, &tables, &new, false)?;
            Ok(new.len())
        })
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
    fn a_commit_failing_at_the_connection_level_is_not_rolled_back_and_its_outcome_is_unknown() {
        let lost = "Lost connection to server during query";
        let failed = ended(db_error(lost), Stage::Commit, || {
            panic!("no ROLLBACK on a lost connection")
        });
        assert_eq!(failed.stage, Stage::Commit);
        assert!(outcome_unknown(&failed.error, failed.stage));
        let answer = finish(failed.error, failed.stage, "PUT");
        assert_eq!((answer.status, answer.retry_after), (503, Some(2)));
        // A COMMIT refused by the server on a live connection is rolled back: 500 code 46.
        let mut rolled_back = false;
        let failed = ended(db_error("Deadlock found"), Stage::Commit, || {
            rolled_back = true;
            Ok(())
        });
        assert!(rolled_back);
        assert!(!outcome_unknown(&failed.error, failed.stage));
        let answer = finish(failed.error, failed.stage, "PUT");
        assert_eq!((answer.status, answer.errors[0].code), (500, 46));
        // A ROLLBACK that fails after it makes the connection an outage, the outcome unknown.
        let failed = ended(db_error("Deadlock found"), Stage::Commit, || {
            Err(Error::DatabaseError(
                DatabaseErrorKind::Unknown,
                Box::new("Deadlock found".to_owned()),
            ))
        });
        assert!(outcome_unknown(&failed.error, failed.stage));
        assert_eq!(finish(failed.error, failed.stage, "PUT").status, 503);
        // A lost connection while the statements ran is 503 too, but known to roll back.
        let failed = ended(db_error(lost), Stage::Statements, || {
            panic!("no ROLLBACK on a lost connection")
        });
        assert!(!outcome_unknown(&failed.error, failed.stage));
        assert_eq!(finish(failed.error, failed.stage, "PUT").status, 503);
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
