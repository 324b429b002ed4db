//! The event log's SQL (docs/events.md): appending (inside the caller's write transaction),
//! reading the feed, the retention purge, the rows a write's events need, and the watcher's
//! poll for changes made outside threadgate.
//!
//! Ordering (docs/events.md, "Ordering"): appends take no shared lock, so an id is given when
//! its row is inserted and becomes visible when its transaction commits, possibly after a
//! higher id's. Readers therefore never read past the *readable horizon* ([`horizon`]): the
//! end of the run of ids after their position with no gap, where a gap is final once a row
//! after it is older than the gap wait (`THREADGATE_EVENTS_GAP_WAIT_MS`).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use diesel::mysql::MysqlConnection;
use diesel::{Connection, QueryResult};

use super::sql::{num, opt, Sql, TextRow};
use super::Tables;
use crate::events::watch::{self, Pending};
use crate::events::{self, Event, Filter, Kind, NewEvent, Source};

/// An `IN` list of ids (`Sql::bind_int_list` over unsigned ids).
fn in_list(q: &mut Sql, ids: impl IntoIterator<Item = u64>) {
    q.bind_int_list(ids.into_iter().map(|id| id as i64));
}

/// Locks the watcher's row (row 1 of `threadgate_event_state`) until the transaction ends;
/// returns its `version`. Only the watcher takes it, to tell whether another node polled
/// meanwhile; threadgate's writes never do.
pub fn lock(conn: &mut MysqlConnection, tables: &Tables) -> QueryResult<u64> {
    let rows = Sql::new(format!(
        "SELECT CAST(version AS CHAR) FROM {} WHERE id = 1 FOR UPDATE",
        tables.name("threadgate_event_state")
    ))
    .cached()
    .load(conn)?;
    Ok(rows.first().map_or(0, |r| num(&r.0[0])))
}

/// Appends `events` in order. Call it inside the transaction of the change, as its last
/// statement: no lock is shared with other writers, so nothing waits on it. One event (nearly
/// every write) is one kept prepared `INSERT ... VALUES`; more are one multi-row `INSERT` per
/// 500.
pub fn append(conn: &mut MysqlConnection, tables: &Tables, events: &[NewEvent]) -> QueryResult<()> {
    insert(conn, tables, events, Shop::AsGiven)
}

/// [`append`] of message events whose `shop` is their thread's, read by the append's own
/// statement (`COALESCE((SELECT id_shop ...), 0)`): no statement of its own for it.
pub fn append_in_thread_shops(
    conn: &mut MysqlConnection,
    tables: &Tables,
    events: &[NewEvent],
) -> QueryResult<()> {
    insert(conn, tables, events, Shop::OfThread)
}

/// Where an appended event's `id_shop` comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shop {
    AsGiven,
    OfThread,
}

const INSERT_COLUMNS: &str =
    "`type`, id_customer_thread, id_customer_message, id_shop, source, id_key, data, created_at";

/// An event's values, in [`INSERT_COLUMNS`] order.
fn values(q: &mut Sql, tables: &Tables, e: &NewEvent, shop: Shop) {
    q.bind_text(e.kind.as_str()).push(", ");
    q.bind_int(i64::from(e.thread)).push(", ");
    match e.message {
        Some(m) => q.bind_int(i64::from(m)),
        None => q.push("NULL"),
    };
    q.push(", ");
    match shop {
        Shop::AsGiven => q.bind_int(i64::from(e.shop)),
        Shop::OfThread => {
            q.push(&format!(
                "COALESCE((SELECT s.id_shop FROM {} s WHERE s.id_customer_thread = ",
                tables.name("customer_thread")
            ));
            q.bind_int(i64::from(e.thread)).push("), 0)")
        }
    };
    q.push(", ");
    match e.source {
        Source::Api { key } => {
            q.push("'api', ").bind_int(i64::from(key));
        }
        Source::Shop => {
            q.push("'shop', NULL");
        }
    }
    q.push(", ");
    match &e.data {
        Some(d) => q.bind_text(d.as_str()),
        None => q.push("NULL"),
    };
    q.push(", UTC_TIMESTAMP(6)");
}

/// Inserts `events`, one statement per 500; one event's statement (a handful of shapes: NULL
/// or not) is kept prepared.
fn insert(
    conn: &mut MysqlConnection,
    tables: &Tables,
    events: &[NewEvent],
    shop: Shop,
) -> QueryResult<()> {
    for chunk in events.chunks(500) {
        let mut q = Sql::new(format!(
            "INSERT INTO {} ({INSERT_COLUMNS}) VALUES ",
            tables.name("threadgate_event")
        ));
        q.cacheable = chunk.len() == 1;
        for (n, e) in chunk.iter().enumerate() {
            if n > 0 {
                q.push(", ");
            }
            q.push("(");
            values(&mut q, tables, e, shop);
            q.push(")");
        }
        q.execute(conn)?;
    }
    Ok(())
}

const EVENT_COLUMNS: &str = "CAST(id AS CHAR), `type`, CAST(id_customer_thread AS CHAR), \
     CAST(id_customer_message AS CHAR), CAST(id_shop AS CHAR), source, CAST(id_key AS CHAR), \
     data, CAST(created_at AS CHAR)";

fn event(r: &TextRow) -> Event {
    let v = &r.0;
    Event {
        id: num(&v[0]),
        kind: v[1].clone().unwrap_or_default(),
        id_customer_thread: num(&v[2]),
        id_customer_message: opt(&v[3]),
        id_shop: num(&v[4]),
        source: v[5].clone().unwrap_or_default(),
        id_key: opt(&v[6]),
        data: v[7].clone(),
        created_at: v[8].clone().unwrap_or_default(),
    }
}

fn push_filter(q: &mut Sql, filter: &Filter) {
    match (filter.threads, filter.messages) {
        (true, true) => {}
        (true, false) => {
            q.push(" AND `type` LIKE 'thread.%'");
        }
        (false, true) => {
            q.push(" AND `type` LIKE 'message.%'");
        }
        (false, false) => {
            q.push(" AND 0");
        }
    }
    if let Some(shops) = &filter.shops {
        if shops.is_empty() {
            q.push(" AND 0");
        } else {
            q.push(" AND id_shop IN ");
            in_list(q, shops.iter().map(|&s| u64::from(s)));
        }
    }
}

/// Rows the horizon's walk reads at most for a filtered reader (the change feed of a key that
/// may not see every event): the cursor can pass that many hidden events per page.
pub const HORIZON_SCAN: u32 = 10_000;

/// How far a reader may read after its position (docs/events.md, "Ordering").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Horizon {
    /// Where the walk started: the reader's position, or the purge's mark when it has none (or
    /// when its position is below the mark).
    pub after: u64,
    /// Every id after `after` up to this one is final: committed, or never to exist.
    pub readable: u64,
    /// The walk stopped at its row bound, not at a gap or at the end of the log: more events
    /// may be readable after `readable`.
    pub capped: bool,
    /// The purge's mark: every id up to it is gone.
    pub purged_through: u64,
}

/// The readable horizon's walk, pure. `rows` are the ids after `after`, in id order, each with
/// whether its row is older than the gap wait (at most `bound` of them); `increment` is the
/// database's `@@auto_increment_increment`. An id that follows the previous one extends the
/// horizon; a missing id (a gap) stops it, unless the row after the gap is older than the gap
/// wait: then the gap is final (a rolled-back or failed insert burnt the id) and the walk goes
/// on. With an increment above 1 (Galera) ids skip by design, so only rows older than the gap
/// wait extend the horizon. Returns the horizon and whether the walk ran out of rows at its
/// bound (`capped`).
pub fn walk(after: u64, increment: u64, rows: &[(u64, bool)], bound: usize) -> (u64, bool) {
    let mut horizon = after;
    for &(id, old) in rows {
        if id <= horizon {
            continue;
        }
        let follows = increment <= 1 && id == horizon + 1;
        if !follows && !old {
            return (horizon, false);
        }
        horizon = id;
    }
    (horizon, bound > 0 && rows.len() >= bound)
}

/// The gap wait in microseconds, as the horizon's statement binds it.
fn micros(gap_wait: Duration) -> i64 {
    i64::try_from(gap_wait.as_micros()).unwrap_or(i64::MAX)
}

/// The readable horizon after `after` (`None`: after the purge's mark), from one statement
/// that reads the purge's mark, `@@auto_increment_increment` and up to `bound` ids after the
/// position with whether each row is older than `gap_wait` (by the database's clock, the one
/// that wrote `created_at`). Ids up to the mark are all deleted, so the rows read after a
/// position below it are those after the mark.
pub fn horizon(
    conn: &mut MysqlConnection,
    tables: &Tables,
    after: Option<u64>,
    bound: u32,
    gap_wait: Duration,
) -> QueryResult<Horizon> {
    let mut q = Sql::new(format!(
        "SELECT CAST(s.purged_through AS CHAR), CAST(@@auto_increment_increment AS CHAR), \
         CAST(e.id AS CHAR), CAST(e.old AS CHAR) FROM {s} s LEFT JOIN \
         (SELECT id, created_at <= UTC_TIMESTAMP(6) - INTERVAL ",
        s = tables.name("threadgate_event_state"),
    ))
    .cached();
    q.bind_int(micros(gap_wait))
        .push(&format!(
            " MICROSECOND AS old FROM {} WHERE id > ",
            tables.name("threadgate_event")
        ))
        .bind_int(after.unwrap_or(0).min(i64::MAX as u64) as i64)
        .push(" ORDER BY id LIMIT ")
        .bind_int(i64::from(bound))
        .push(") e ON 1 = 1 WHERE s.id = 2");
    let rows = q.load(conn)?;
    let purged_through: u64 = rows.first().map_or(0, |r| num(&r.0[0]));
    let increment: u64 = rows.first().map_or(1, |r| num(&r.0[1]));
    let mut ids: Vec<(u64, bool)> = rows
        .iter()
        .filter_map(|r| Some((opt::<u64>(&r.0[2])?, num::<u8>(&r.0[3]) == 1)))
        .collect();
    // A derived table's order is not kept by the join.
    ids.sort_unstable();
    let start = after.unwrap_or(0).max(purged_through);
    let (readable, capped) = walk(start, increment, &ids, bound as usize);
    Ok(Horizon {
        after: start,
        readable,
        capped,
        purged_through,
    })
}

/// The position a reader starts at to get only what is logged from now on: every id up to it
/// is final, and the ids after it are not all final yet (or do not exist). The rows younger
/// than the gap wait are read by `created_at` (indexed), and the walk goes on from the last
/// older row.
pub fn newest(conn: &mut MysqlConnection, tables: &Tables, gap_wait: Duration) -> QueryResult<u64> {
    let e = tables.name("threadgate_event");
    let mut q = Sql::new(format!(
        "SELECT CAST(COALESCE(MAX(id), 0) AS CHAR) FROM {e} WHERE id < COALESCE((SELECT MIN(id) \
         FROM {e} WHERE created_at > UTC_TIMESTAMP(6) - INTERVAL "
    ))
    .cached();
    q.bind_int(micros(gap_wait))
        .push(" MICROSECOND), 18446744073709551615)");
    let settled: u64 = q.load(conn)?.first().map_or(0, |r| num(&r.0[0]));
    let mut h = horizon(conn, tables, Some(settled), HORIZON_SCAN, gap_wait)?;
    while h.capped {
        h = horizon(conn, tables, Some(h.readable), HORIZON_SCAN, gap_wait)?;
    }
    Ok(h.readable)
}

/// Up to `limit` events after `after_id` and up to `up_to` (inclusive), in id order, that
/// `filter` lets through.
fn page_up_to(
    conn: &mut MysqlConnection,
    tables: &Tables,
    after_id: u64,
    up_to: u64,
    limit: u32,
    filter: &Filter,
) -> QueryResult<Vec<Event>> {
    let mut q = Sql::new(format!(
        "SELECT {EVENT_COLUMNS} FROM {} WHERE id > ",
        tables.name("threadgate_event")
    ));
    q.bind_int(after_id.min(i64::MAX as u64) as i64)
        .push(" AND id <= ");
    q.bind_int(up_to.min(i64::MAX as u64) as i64);
    push_filter(&mut q, filter);
    q.push(" ORDER BY id LIMIT ").bind_int(i64::from(limit));
    Ok(q.load(conn)?.iter().map(event).collect())
}

/// One page of the change feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedPage {
    pub events: Vec<Event>,
    /// The id to go on after.
    pub last_id: u64,
    pub end_of_stream: bool,
}

/// Why a cursor cannot be served.
#[derive(Debug)]
pub enum FeedError {
    /// Events after the cursor were purged (retention).
    Expired {
        purged_through: u64,
    },
    Db(diesel::result::Error),
}

impl From<diesel::result::Error> for FeedError {
    fn from(e: diesel::result::Error) -> FeedError {
        FeedError::Db(e)
    }
}

/// The page after `cursor` (`None`: from the oldest event kept), for every reader of the log:
/// the change feed, the webhook and e-mail workers, `events tail`. The readable horizon
/// ([`horizon`]) is read first and bounds the page, so that no event that commits late is
/// passed over, and, when the page is not full, the cursor goes on to the horizon, past the
/// events the filter hides; the page is the end of the stream when it reached the horizon.
/// An unfiltered reader's walk reads `limit + 1` ids, a filtered one's [`HORIZON_SCAN`].
pub fn feed(
    conn: &mut MysqlConnection,
    tables: &Tables,
    cursor: Option<u64>,
    limit: u32,
    filter: &Filter,
    gap_wait: Duration,
) -> Result<FeedPage, FeedError> {
    // One id more than the page: a full page that ends the stream says so.
    let bound = if *filter == Filter::everything() {
        limit.max(1) + 1
    } else {
        HORIZON_SCAN.max(limit + 1)
    };
    let h = horizon(conn, tables, cursor, bound, gap_wait)?;
    if let Some(c) = cursor {
        if c < h.purged_through {
            return Err(FeedError::Expired {
                purged_through: h.purged_through,
            });
        }
    }
    let events = if h.readable > h.after {
        page_up_to(conn, tables, h.after, h.readable, limit, filter)?
    } else {
        Vec::new()
    };
    let full = events.len() == limit as usize;
    let last_id = match events.last() {
        Some(e) if full => e.id,
        _ => h.readable,
    };
    Ok(FeedPage {
        end_of_stream: !h.capped && last_id >= h.readable,
        events,
        last_id,
    })
}

/// Deletes one batch (at most `batch`, oldest first) of events older than `days`; returns how
/// many. The purge's mark moves in the same transaction.
pub fn purge_batch(
    conn: &mut MysqlConnection,
    tables: &Tables,
    days: u32,
    batch: u32,
) -> QueryResult<usize> {
    conn.transaction(|conn| {
        let mut q = Sql::new(format!(
            "SELECT CAST(MAX(id) AS CHAR) FROM (SELECT id FROM {} WHERE created_at < UTC_TIMESTAMP(6) - INTERVAL ",
            tables.name("threadgate_event")
        ));
        q.bind_int(i64::from(days))
            .push(" DAY ORDER BY id LIMIT ")
            .bind_int(i64::from(batch))
            .push(") old");
        let upto: Option<u64> = q.load(conn)?.first().and_then(|r| opt(&r.0[0]));
        let Some(upto) = upto else { return Ok(0) };
        let mut q = Sql::new(format!(
            "UPDATE {} SET purged_through = GREATEST(purged_through, ",
            tables.name("threadgate_event_state")
        ));
        q.bind_int(upto as i64).push(") WHERE id = 2");
        q.execute(conn)?;
        let mut q = Sql::new(format!(
            "DELETE FROM {} WHERE id <= ",
            tables.name("threadgate_event")
        ));
        q.bind_int(upto as i64);
        q.execute(conn)
    })
}

/// (thread id, shop) of the given threads.
pub fn thread_shops(
    conn: &mut MysqlConnection,
    tables: &Tables,
    threads: &[u64],
) -> QueryResult<HashMap<u64, u32>> {
    let mut out = HashMap::new();
    if threads.is_empty() {
        return Ok(out);
    }
    let mut q = Sql::new(format!(
        "SELECT CAST(id_customer_thread AS CHAR), CAST(id_shop AS CHAR) FROM {} WHERE id_customer_thread IN ",
        tables.name("customer_thread")
    ));
    q.cacheable = threads.len() == 1;
    in_list(&mut q, threads.iter().copied());
    for r in q.load(conn)? {
        out.insert(num(&r.0[0]), num(&r.0[1]));
    }
    Ok(out)
}

/// (message id, thread id, shop) of the messages of `threads` (`by_thread`) or of the messages
/// `ids`, for the events of a DELETE.
pub fn messages_of(
    conn: &mut MysqlConnection,
    tables: &Tables,
    ids: &[u64],
    by_thread: bool,
) -> QueryResult<Vec<(u64, u64, u32)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = Sql::new(format!(
        "SELECT CAST(m.id_customer_message AS CHAR), CAST(COALESCE(m.id_customer_thread, 0) AS CHAR), CAST(COALESCE(t.id_shop, 0) AS CHAR) \
         FROM {m} m LEFT JOIN {t} t ON t.id_customer_thread = m.id_customer_thread WHERE m.{col} IN ",
        m = tables.name("customer_message"),
        t = tables.name("customer_thread"),
        col = if by_thread { "id_customer_thread" } else { "id_customer_message" },
    ));
    in_list(&mut q, ids.iter().copied());
    q.push(" ORDER BY m.id_customer_message");
    if by_thread {
        // Locked, and no message can join these threads before the DELETE: the rows deleted
        // are exactly the ones that get an event. (Messages named by id are locked already.)
        q.push(" FOR UPDATE");
    }
    Ok(q.load(conn)?
        .iter()
        .map(|r| (num(&r.0[0]), num(&r.0[1]), num(&r.0[2])))
        .collect())
}

// --- The watcher ---

/// The watcher's marks (row 1 of `threadgate_event_state`).
#[derive(Debug, Clone, Default)]
struct Marks {
    version: u64,
    ready: bool,
    last_thread: u64,
    last_message: u64,
    mark: Option<String>,
    pending: Pending,
    /// The database's unix time when the marks were read.
    now: i64,
}

fn read_marks(conn: &mut MysqlConnection, tables: &Tables) -> QueryResult<Marks> {
    let rows = Sql::new(format!(
        "SELECT CAST(version AS CHAR), CAST(ready AS CHAR), CAST(last_thread_id AS CHAR), CAST(last_message_id AS CHAR), \
         CAST(date_upd_mark AS CHAR), gaps, CAST(UNIX_TIMESTAMP() AS CHAR) FROM {} WHERE id = 1",
        tables.name("threadgate_event_state")
    ))
    .load(conn)?;
    let Some(r) = rows.first() else {
        return Ok(Marks::default());
    };
    let v = &r.0;
    Ok(Marks {
        version: num(&v[0]),
        ready: num::<u8>(&v[1]) == 1,
        last_thread: num(&v[2]),
        last_message: num(&v[3]),
        mark: v[4].clone(),
        pending: Pending::parse(v[5].as_deref()),
        now: num(&v[6]),
    })
}

fn write_marks(conn: &mut MysqlConnection, tables: &Tables, m: &Marks) -> QueryResult<()> {
    let mut q = Sql::new(format!(
        "UPDATE {} SET version = version + 1, ready = 1, last_thread_id = ",
        tables.name("threadgate_event_state")
    ));
    q.bind_int(m.last_thread as i64)
        .push(", last_message_id = ")
        .bind_int(m.last_message as i64)
        .push(", date_upd_mark = ");
    match &m.mark {
        Some(d) => q.bind_text(d.as_str()),
        None => q.push("NULL"),
    };
    q.push(", gaps = ")
        .bind_text(m.pending.to_text())
        .push(" WHERE id = 1");
    q.execute(conn)?;
    Ok(())
}

/// A thread row as the watcher reads it.
#[derive(Debug, Clone)]
struct ThreadRow {
    id: u64,
    shop: u32,
    status: String,
    date_upd: String,
}

fn thread_row(r: &TextRow) -> ThreadRow {
    ThreadRow {
        id: num(&r.0[0]),
        shop: num(&r.0[1]),
        status: r.0[2].clone().unwrap_or_default(),
        date_upd: r.0[3].clone().unwrap_or_default(),
    }
}

const THREAD_COLUMNS: &str =
    "CAST(id_customer_thread AS CHAR), CAST(id_shop AS CHAR), status, CAST(date_upd AS CHAR)";

/// What one poll did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Polled {
    /// Events appended.
    pub appended: usize,
    /// The first poll on this database: the marks were set to what exists, nothing reported.
    pub started: bool,
    /// Another node polled meanwhile: nothing done (its poll covered the same rows).
    pub skipped: bool,
}

/// Shop time strings compare as dates (`Y-m-d H:i:s`).
fn min_date(a: String, b: &str) -> String {
    if a.as_str() > b {
        b.to_owned()
    } else {
        a
    }
}

/// One poll of the watcher (docs/events.md, "Outside changes"): new threads and messages by
/// primary key, changed threads by `date_upd`, each appended once as a `shop` event unless the
/// log already has it (threadgate's own writes log theirs in their transaction).
///
/// Everything is read in one transaction's snapshot, the log included, so a write of
/// threadgate's is either wholly visible (its row and its event) or not at all. The marks' row
/// (row 1, which only watchers lock) is locked only at the end; if the marks changed meanwhile
/// (another node polled), nothing is written.
///
/// `scan_updates`: whether this poll also looks for changed threads by `date_upd` (a whole read
/// of `customer_thread` unless it has an index on `date_upd`); new rows are always looked for.
pub fn poll(
    conn: &mut MysqlConnection,
    tables: &Tables,
    shop_now: &str,
    scan_updates: bool,
) -> QueryResult<Polled> {
    conn.transaction(|conn| {
        let marks = read_marks(conn, tables)?;
        if !marks.ready {
            return first_poll(conn, tables, &marks, shop_now);
        }
        let new_threads = new_threads(conn, tables, &marks)?;
        let new_messages = new_messages(conn, tables, &marks)?;
        let changed: Vec<ThreadRow> = if scan_updates {
            changed_threads(conn, tables, &marks)?
        } else {
            Vec::new()
        };
        // Seen unchanged by an earlier poll: not looked up in the log again.
        let window: HashSet<(u64, &str)> = marks
            .pending
            .window
            .iter()
            .map(|(id, d)| (*id, d.as_str()))
            .collect();
        let fresh: Vec<&ThreadRow> = changed
            .iter()
            .filter(|r| !window.contains(&(r.id, r.date_upd.as_str())))
            .collect();
        let out = outside_events(conn, tables, &new_threads, &new_messages, &fresh)?;
        let next = next_marks(
            &marks,
            &new_threads,
            &new_messages,
            &changed,
            shop_now,
            scan_updates,
        );
        if lock(conn, tables)? != marks.version {
            return Ok(Polled {
                skipped: true,
                ..Polled::default()
            });
        }
        insert(conn, tables, &out, Shop::AsGiven)?;
        write_marks(conn, tables, &next)?;
        Ok(Polled {
            appended: out.len(),
            ..Polled::default()
        })
    })
}

/// The first poll on a database: the marks are set to what exists, nothing is reported.
fn first_poll(
    conn: &mut MysqlConnection,
    tables: &Tables,
    marks: &Marks,
    shop_now: &str,
) -> QueryResult<Polled> {
    let t = tables.name("customer_thread");
    let m = tables.name("customer_message");
    let rows = Sql::new(format!(
        "SELECT CAST(COALESCE(MAX(id_customer_thread), 0) AS CHAR), CAST(MAX(date_upd) AS CHAR), \
         (SELECT CAST(COALESCE(MAX(id_customer_message), 0) AS CHAR) FROM {m}) FROM {t}"
    ))
    .load(conn)?;
    let r = rows.first().cloned().unwrap_or(TextRow(vec![None; 3]));
    let mark = r.0[1].clone().map(|d| min_date(d, shop_now));
    let mut next = Marks {
        last_thread: num(&r.0[0]),
        last_message: num(&r.0[2]),
        mark: mark.clone(),
        ..marks.clone()
    };
    if let Some(floor) = mark.as_deref().and_then(watch::lookback_floor) {
        let mut q = Sql::new(format!(
            "SELECT {THREAD_COLUMNS} FROM {t} WHERE date_upd >= "
        ));
        q.bind_text(floor)
            // `threadgate_upd` (`date_upd` DESC) is read forward in this order, with no sort.
            .push(" ORDER BY date_upd DESC, id_customer_thread LIMIT ")
            .bind_int(watch::MAX_WINDOW as i64);
        let seen: Vec<(u64, String)> = q
            .load(conn)?
            .iter()
            .map(thread_row)
            .map(|r| (r.id, r.date_upd))
            .collect();
        next.pending.window = watch::next_window(&[], &seen, mark.as_deref().unwrap_or_default());
    }
    if lock(conn, tables)? != marks.version {
        return Ok(Polled {
            skipped: true,
            ..Polled::default()
        });
    }
    write_marks(conn, tables, &next)?;
    Ok(Polled {
        started: true,
        ..Polled::default()
    })
}

/// New threads, by id (skipped ids looked for again).
fn new_threads(
    conn: &mut MysqlConnection,
    tables: &Tables,
    marks: &Marks,
) -> QueryResult<Vec<ThreadRow>> {
    let t = tables.name("customer_thread");
    let mut q = Sql::new(format!(
        "SELECT {THREAD_COLUMNS} FROM {t} WHERE id_customer_thread > "
    ));
    ids_after_mark(
        &mut q,
        "id_customer_thread",
        marks.last_thread,
        &marks.pending.threads,
    );
    Ok(q.load(conn)?.iter().map(thread_row).collect())
}

/// The rest of a new-rows scan, after `WHERE <column> > `: the ids above `last`, or skipped
/// before (`gaps`), by id, at most [`watch::BATCH`].
fn ids_after_mark(q: &mut Sql, column: &str, last: u64, gaps: &[(u64, i64)]) {
    q.bind_int(last as i64);
    if !gaps.is_empty() {
        q.push(&format!(" OR {column} IN "));
        in_list(q, gaps.iter().map(|g| g.0));
    }
    q.push(&format!(" ORDER BY {column} LIMIT "))
        .bind_int(watch::BATCH);
}

/// A new message as the watcher reads it: (id, thread, shop, employee, private).
type MessageRow = (u64, u64, u32, u64, bool);

/// New messages, by id, with their thread's shop.
fn new_messages(
    conn: &mut MysqlConnection,
    tables: &Tables,
    marks: &Marks,
) -> QueryResult<Vec<MessageRow>> {
    let t = tables.name("customer_thread");
    let m = tables.name("customer_message");
    let mut q = Sql::new(format!(
        "SELECT CAST(m.id_customer_message AS CHAR), CAST(COALESCE(m.id_customer_thread, 0) AS CHAR), \
         CAST(COALESCE(t.id_shop, 0) AS CHAR), CAST(COALESCE(m.id_employee, 0) AS CHAR), CAST(m.private AS CHAR) \
         FROM {m} m LEFT JOIN {t} t ON t.id_customer_thread = m.id_customer_thread WHERE m.id_customer_message > "
    ));
    ids_after_mark(
        &mut q,
        "m.id_customer_message",
        marks.last_message,
        &marks.pending.messages,
    );
    Ok(q.load(conn)?
        .iter()
        .map(|r| {
            (
                num(&r.0[0]),
                num(&r.0[1]),
                num(&r.0[2]),
                num(&r.0[3]),
                num::<i64>(&r.0[4]) != 0,
            )
        })
        .collect())
}

/// Threads changed since the marks, oldest `date_upd` first ([`changed_threads_sql`]).
fn changed_threads(
    conn: &mut MysqlConnection,
    tables: &Tables,
    marks: &Marks,
) -> QueryResult<Vec<ThreadRow>> {
    let after = marks
        .pending
        .after
        .as_ref()
        .map(|(d, id)| (d.as_str(), *id));
    let floor = marks.mark.as_deref().and_then(watch::lookback_floor);
    Ok(changed_threads_sql(tables, after, floor.as_deref())
        .load(conn)?
        .iter()
        .map(thread_row)
        .collect())
}

/// The watcher's `date_upd` scan: up to [`watch::BATCH`] threads after `after` (where the
/// last scan was cut at its row limit), else from `floor` (the mark less the look-back), else
/// every thread; ordered by `date_upd`, then by id *descending*, the order in which MariaDB
/// reads `threadgate_upd` (`date_upd` DESC, the id ascending after it) backwards, so with that
/// index no sort is needed however many threads changed (`threadgate tune` checks it).
pub fn changed_threads_sql(
    tables: &Tables,
    after: Option<(&str, u64)>,
    floor: Option<&str>,
) -> Sql {
    let t = tables.name("customer_thread");
    let mut q = Sql::new(format!("SELECT {THREAD_COLUMNS} FROM {t} t"));
    match (after, floor) {
        (Some((d, id)), _) => {
            q.push(" WHERE date_upd > ")
                .bind_text(d)
                .push(" OR (date_upd = ")
                .bind_text(d)
                .push(" AND id_customer_thread < ")
                .bind_int(id as i64)
                .push(")");
        }
        (None, Some(floor)) => {
            q.push(" WHERE date_upd >= ").bind_text(floor);
        }
        (None, None) => {}
    }
    q.push(" ORDER BY date_upd, id_customer_thread DESC LIMIT ")
        .bind_int(watch::BATCH);
    q
}

/// The `shop` events of what a poll found, less what the log already has (read in the same
/// snapshot).
fn outside_events(
    conn: &mut MysqlConnection,
    tables: &Tables,
    new_threads: &[ThreadRow],
    new_messages: &[MessageRow],
    fresh: &[&ThreadRow],
) -> QueryResult<Vec<NewEvent>> {
    let thread_ids: Vec<u64> = new_threads
        .iter()
        .chain(fresh.iter().copied())
        .map(|r| r.id)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let mut known = logged_thread_marks(conn, tables, &thread_ids)?;
    let logged_messages = logged_message_ids(conn, tables, new_messages)?;

    let mut out = Vec::new();
    for r in new_threads {
        if known.contains_key(&r.id) {
            continue;
        }
        out.push(NewEvent {
            kind: Kind::ThreadCreated,
            thread: r.id as u32,
            message: None,
            shop: r.shop,
            source: Source::Shop,
            data: Some(events::thread_data(None, &r.status, &r.date_upd)),
        });
        known.insert(r.id, Some((r.status.clone(), r.date_upd.clone())));
    }
    for (id, thread, shop, employee, private) in new_messages {
        if logged_messages.contains(id) {
            continue;
        }
        out.push(NewEvent {
            kind: Kind::MessageCreated,
            thread: *thread as u32,
            message: Some(*id as u32),
            shop: *shop,
            source: Source::Shop,
            data: Some(events::message_created_data(*employee, *private, false)),
        });
    }
    for r in fresh {
        let last = known.get(&r.id).cloned().flatten();
        if last.as_ref().is_some_and(|(_, d)| *d == r.date_upd) {
            continue;
        }
        let mut fields = Vec::new();
        if last.as_ref().is_some_and(|(s, _)| *s != r.status) {
            fields.push("status");
        }
        fields.push("date_upd");
        out.push(NewEvent {
            kind: Kind::ThreadUpdated,
            thread: r.id as u32,
            message: None,
            shop: r.shop,
            source: Source::Shop,
            data: Some(events::thread_data(Some(&fields), &r.status, &r.date_upd)),
        });
        known.insert(r.id, Some((r.status.clone(), r.date_upd.clone())));
    }
    Ok(out)
}

/// The marks after a poll that found these rows.
fn next_marks(
    marks: &Marks,
    new_threads: &[ThreadRow],
    new_messages: &[MessageRow],
    changed: &[ThreadRow],
    shop_now: &str,
    scan_updates: bool,
) -> Marks {
    let mut next = marks.clone();
    let found: Vec<u64> = new_threads.iter().map(|r| r.id).collect();
    (next.last_thread, next.pending.threads) =
        watch::advance(marks.last_thread, &marks.pending.threads, &found, marks.now);
    let found: Vec<u64> = new_messages.iter().map(|r| r.0).collect();
    (next.last_message, next.pending.messages) = watch::advance(
        marks.last_message,
        &marks.pending.messages,
        &found,
        marks.now,
    );
    let seen_max = changed.iter().map(|r| r.date_upd.clone()).max();
    next.mark = match (marks.mark.clone(), seen_max) {
        (Some(a), Some(b)) => Some(if b > a { b } else { a }),
        (a, b) => a.or(b),
    }
    .map(|d| min_date(d, shop_now));
    next.pending.after = if !scan_updates {
        marks.pending.after.clone()
    } else if changed.len() as i64 == watch::BATCH {
        changed.last().map(|r| (r.date_upd.clone(), r.id))
    } else {
        None
    };
    let seen: Vec<(u64, String)> = changed.iter().map(|r| (r.id, r.date_upd.clone())).collect();
    next.pending.window = watch::next_window(
        &marks.pending.window,
        &seen,
        next.mark.as_deref().unwrap_or_default(),
    );
    next
}

/// The (status, date_upd) of the last thread event logged per thread (`None` for a thread
/// whose events record none); a thread without any event is absent.
fn logged_thread_marks(
    conn: &mut MysqlConnection,
    tables: &Tables,
    ids: &[u64],
) -> QueryResult<HashMap<u64, Option<(String, String)>>> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(1000) {
        let mut q = Sql::new(format!(
            "SELECT CAST(id_customer_thread AS CHAR), data FROM {} WHERE `type` IN ('thread.created', 'thread.updated') AND id_customer_thread IN ",
            tables.name("threadgate_event")
        ));
        in_list(&mut q, chunk.iter().copied());
        q.push(" ORDER BY id");
        for r in q.load(conn)? {
            out.insert(num(&r.0[0]), events::thread_marks(r.0[1].as_deref()));
        }
    }
    Ok(out)
}

/// Which of the messages already have a `message.created` in the log.
fn logged_message_ids(
    conn: &mut MysqlConnection,
    tables: &Tables,
    messages: &[(u64, u64, u32, u64, bool)],
) -> QueryResult<HashSet<u64>> {
    let mut out = HashSet::new();
    for chunk in messages.chunks(1000) {
        let threads: HashSet<u64> = chunk.iter().map(|m| m.1).collect();
        let mut q = Sql::new(format!(
            "SELECT CAST(id_customer_message AS CHAR) FROM {} WHERE `type` = 'message.created' AND id_customer_thread IN ",
            tables.name("threadgate_event")
        ));
        in_list(&mut q, threads);
        q.push(" AND id_customer_message IN ");
        in_list(&mut q, chunk.iter().map(|m| m.0));
        for r in q.load(conn)? {
            out.insert(num(&r.0[0]));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_feed_page_for_a_key_names_its_resources_and_shops() {
        let mut q = Sql::new("SELECT 1 FROM e WHERE id > 0");
        push_filter(
            &mut q,
            &Filter {
                threads: false,
                messages: true,
                shops: Some(vec![1, 3]),
            },
        );
        assert_eq!(
            q.text,
            "SELECT 1 FROM e WHERE id > 0 AND `type` LIKE 'message.%' AND id_shop IN (?, ?)"
        );
        let mut q = Sql::new("x");
        push_filter(&mut q, &Filter::everything());
        assert_eq!(q.text, "x");
    }

    #[test]
    fn the_watchers_scan_is_in_the_order_threadgate_upd_is_read_backwards() {
        let t = Tables::new("ps_");
        assert_eq!(
            changed_threads_sql(&t, Some(("2024-01-01 10:00:00", 7)), None).text,
            format!(
                "SELECT {THREAD_COLUMNS} FROM `ps_customer_thread` t WHERE date_upd > ? OR \
                 (date_upd = ? AND id_customer_thread < ?) ORDER BY date_upd, \
                 id_customer_thread DESC LIMIT ?"
            )
        );
        assert_eq!(
            changed_threads_sql(&t, None, Some("2024-01-01 09:59:58")).text,
            format!(
                "SELECT {THREAD_COLUMNS} FROM `ps_customer_thread` t WHERE date_upd >= ? \
                 ORDER BY date_upd, id_customer_thread DESC LIMIT ?"
            )
        );
    }

    #[test]
    fn the_horizon_follows_consecutive_ids_and_stops_at_a_young_gap() {
        let young = |ids: &[u64]| ids.iter().map(|&i| (i, false)).collect::<Vec<_>>();
        // Nothing after the position: the horizon is the position.
        assert_eq!(walk(7, 1, &[], 100), (7, false));
        // Consecutive ids, however young: all readable.
        assert_eq!(walk(7, 1, &young(&[8, 9, 10]), 100), (10, false));
        // 11 is missing (not committed yet, or rolled back less than the gap wait ago).
        assert_eq!(walk(7, 1, &young(&[8, 9, 10, 12, 13]), 100), (10, false));
        // A gap right after the position.
        assert_eq!(walk(7, 1, &young(&[9]), 100), (7, false));
        // The walk read as many rows as it was allowed: more may follow.
        assert_eq!(walk(7, 1, &young(&[8, 9]), 2), (9, true));
        // ... unless it stopped at a gap first.
        assert_eq!(walk(7, 1, &young(&[9, 10]), 2), (7, false));
    }

    #[test]
    fn a_gap_is_final_once_the_row_after_it_is_older_than_the_gap_wait() {
        // 11 and 12 burnt long ago: 13 is old, so the gap is final and the walk goes on to the
        // young but consecutive 14; 16 is missing and 17 young: stop there.
        let rows = [(8, true), (10, true), (13, true), (14, false), (17, false)];
        assert_eq!(walk(7, 1, &rows, 100), (14, false));
        // Old rows only: every gap is final.
        assert_eq!(walk(0, 1, &[(5, true), (9, true)], 100), (9, false));
        // Rows read that are not after the position are ignored.
        assert_eq!(walk(9, 1, &[(9, false), (10, false)], 100), (10, false));
    }

    #[test]
    fn with_an_increment_above_one_only_old_rows_are_readable() {
        // Galera: ids step by the cluster's size, from each node's offset; a young id may
        // be passed by another node's that commits later.
        assert_eq!(walk(1, 3, &[(4, true), (7, false)], 100), (4, false));
        assert_eq!(walk(1, 3, &[(2, false), (4, false)], 100), (1, false));
        assert_eq!(walk(1, 3, &[(2, true), (4, true), (5, true)], 3), (5, true));
    }

    #[test]
    fn appends_bind_every_value() {
        let mut conn_less = Sql::new("");
        in_list(&mut conn_less, [1, 2]);
        assert_eq!(conn_less.text, "(?, ?)");
    }
}
