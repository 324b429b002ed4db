//! The MariaDB ceilings for scripts/bench: raw single statements through diesel, one connection
//! per thread, no HTTP in between, each a cached prepared statement (one `COM_STMT_EXECUTE` per
//! call) in autocommit mode.
//!
//!   pointselect --url URL --concurrency C --duration S (--max-id N | --ranges A-B,C-D,...)
//!               [--mode select|insert-thread|update-thread|insert-message]
//!               [--shape full|row] [--prefix ps_] [--warmup S]
//!
//! `--mode select` (the default) is the ceiling for `GET /api/customer_threads/{id}`: primary-key
//! point selects exactly as threadgate issues them (the same `reads::single_sql` statement).
//! `--shape full` is threadgate's statement for `display=full` (the row plus the message ids);
//! `--shape row` selects the row alone.
//! The write modes are the ceilings for the write routes, one single-row statement per call with
//! the columns threadgate writes (every field of the resource but the id, in its order):
//!   insert-thread   INSERT INTO ps_customer_thread (POST /api/customer_threads)
//!   update-thread   UPDATE ps_customer_thread ... WHERE id_customer_thread = random id (PUT)
//!   insert-message  INSERT INTO ps_customer_message on a random thread (POST /api/customer_messages)
//!
//! Ids are drawn uniformly from 1..=N, or from the existing ids given as ranges (InnoDB leaves
//! auto-increment gaps between the bulk seed's INSERT ... SELECT batches, so 1..=MAX has holes).
//! Prints one line: `pointselect mode=.. shape=.. c=.. requests=.. seconds=.. rps=.. p50_ms=..
//! p99_ms=.. errors=.. empty=.. calls=..` (scripts/bench parses it; `empty` counts selects that
//! found no row and updates that changed none; `calls` counts every statement run, warm-up
//! included, to divide the server's statement counters by).

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::{Connection, MysqlConnection};
use rand::Rng;

use threadgate::db::reads::{single_sql, Columns};
use threadgate::db::sql::Sql;
use threadgate::db::Tables;
use threadgate::query::Display;
use threadgate::resource::customer_messages::CUSTOMER_MESSAGES;
use threadgate::resource::customer_threads::CUSTOMER_THREADS;
use threadgate::resource::ResourceDef;

/// What each call runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Select,
    InsertThread,
    UpdateThread,
    InsertMessage,
}

const MODES: &str = "select, insert-thread, update-thread or insert-message";

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Select => "select",
            Mode::InsertThread => "insert-thread",
            Mode::UpdateThread => "update-thread",
            Mode::InsertMessage => "insert-message",
        }
    }
}

struct Args {
    url: String,
    concurrency: usize,
    duration: f64,
    warmup: f64,
    /// Inclusive id ranges to draw from.
    ranges: Vec<(i64, i64)>,
    full: bool,
    mode: Mode,
    prefix: String,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        url: std::env::var("DATABASE_URL").unwrap_or_default(),
        concurrency: 1,
        duration: 10.0,
        warmup: 1.0,
        ranges: Vec::new(),
        full: true,
        mode: Mode::Select,
        prefix: "ps_".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        // `cargo bench` appends `--bench`; ignore it.
        if flag == "--bench" {
            continue;
        }
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--url" => a.url = value()?,
            "--concurrency" | "-c" => {
                a.concurrency = value()?.parse().map_err(|e| format!("{flag}: {e}"))?
            }
            "--duration" | "-d" => {
                a.duration = value()?.parse().map_err(|e| format!("{flag}: {e}"))?
            }
            "--warmup" => a.warmup = value()?.parse().map_err(|e| format!("{flag}: {e}"))?,
            "--max-id" => {
                let max: i64 = value()?.parse().map_err(|e| format!("{flag}: {e}"))?;
                a.ranges = vec![(1, max)];
            }
            "--ranges" => a.ranges = parse_ranges(&value()?)?,
            "--prefix" => a.prefix = value()?,
            "--shape" => {
                a.full = match value()?.as_str() {
                    "full" => true,
                    "row" => false,
                    other => return Err(format!("--shape: full or row, not {other:?}")),
                }
            }
            "--mode" => {
                let v = value()?;
                a.mode = match v.as_str() {
                    "select" => Mode::Select,
                    "insert-thread" => Mode::InsertThread,
                    "update-thread" => Mode::UpdateThread,
                    "insert-message" => Mode::InsertMessage,
                    _ => return Err(format!("--mode: {MODES}, not {v:?}")),
                }
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if a.url.is_empty() {
        return Err("--url (or DATABASE_URL) is required".into());
    }
    if a.ranges.is_empty() || a.ranges.iter().any(|&(lo, hi)| lo < 1 || hi < lo) {
        return Err("--max-id or --ranges: positive ids, each range low-high".into());
    }
    if a.concurrency < 1 || a.duration.is_nan() || a.duration <= 0.0 || a.warmup < 0.0 {
        return Err("--concurrency and --duration must be positive".into());
    }
    Ok(a)
}

fn parse_ranges(s: &str) -> Result<Vec<(i64, i64)>, String> {
    s.split(',')
        .filter(|r| !r.is_empty())
        .map(|r| {
            let (lo, hi) = r
                .split_once('-')
                .ok_or(format!("--ranges: {r:?} is not A-B"))?;
            let lo = lo.parse().map_err(|e| format!("--ranges: {r:?}: {e}"))?;
            let hi = hi.parse().map_err(|e| format!("--ranges: {r:?}: {e}"))?;
            Ok((lo, hi))
        })
        .collect()
}

/// A uniformly random id from the ranges.
fn pick(ranges: &[(i64, i64)], total: i64, rng: &mut impl Rng) -> i64 {
    let mut k = rng.gen_range(0..total);
    for &(lo, hi) in ranges {
        let n = hi - lo + 1;
        if k < n {
            return lo + k;
        }
        k -= n;
    }
    ranges[ranges.len() - 1].1
}

/// The value the write routes of scripts/bench send (or threadgate stores when omitted) for a
/// column; `id` is the random thread of an update or a message, `customer` a random customer.
fn write_value(q: &mut Sql, column: &str, id: i64, customer: i64, now: &str, put: bool) {
    match column {
        "id_lang" | "id_shop" | "id_contact" => q.bind_int(1),
        "id_customer" => q.bind_int(customer),
        "id_customer_thread" => q.bind_int(id),
        "id_order" | "id_product" | "id_employee" | "private" | "read" => q.bind_int(0),
        "email" => q.bind_text(format!("customer{customer}@example.com")),
        "token" => q.bind_text(format!("bench{:07}", customer % 10_000_000)),
        "status" => q.bind_text("open"),
        "message" => q.bind_text(format!(
            "Bench message to thread {id}: is my order on its way?"
        )),
        // A PUT sends the thread's date_add back (scripts/bench sends a fixed one).
        "date_add" if put => q.bind_text("2024-01-01 00:00:00"),
        "date_add" | "date_upd" => q.bind_text(now),
        // ip_address, file_name, user_agent: omitted, stored as ''.
        _ => q.bind_text(""),
    };
}

/// The single-row write of a write mode: every field of the resource but the id, as threadgate
/// writes them (`db::writes::insert` / `update`), but a cached prepared statement.
fn write_sql(tables: &Tables, mode: Mode, id: i64, customer: i64, now: &str) -> Sql {
    let res: &ResourceDef = match mode {
        Mode::InsertMessage => &CUSTOMER_MESSAGES,
        _ => &CUSTOMER_THREADS,
    };
    let fields = &res.fields[1..];
    let mut q;
    if mode == Mode::UpdateThread {
        q = Sql::new(format!("UPDATE {} SET ", tables.name(res.table)));
        for (n, f) in fields.iter().enumerate() {
            if n > 0 {
                q.push(", ");
            }
            q.push(&format!("`{}` = ", f.column));
            write_value(&mut q, f.column, id, customer, now, true);
        }
        q.push(&format!(" WHERE `{}` = ", res.id_column()))
            .bind_int(id);
    } else {
        q = Sql::new(format!("INSERT INTO {} (", tables.name(res.table)));
        let names: Vec<String> = fields.iter().map(|f| format!("`{}`", f.column)).collect();
        q.push(&names.join(", ")).push(") VALUES (");
        for (n, f) in fields.iter().enumerate() {
            if n > 0 {
                q.push(", ");
            }
            write_value(&mut q, f.column, id, customer, now, false);
        }
        q.push(")");
    }
    q.cached()
}

/// What one connection did during the measured window.
#[derive(Default)]
struct Tally {
    latencies_ns: Vec<u64>,
    errors: u64,
    empty: u64,
    /// Statements run, warm-up and the last one after the window included.
    calls: u64,
}

fn worker(
    args: &Args,
    cols: &Columns,
    barrier: &Barrier,
    measuring: &AtomicBool,
    stop: &AtomicBool,
) -> Result<Tally, String> {
    let tables = Tables::new(&args.prefix);
    let connected = MysqlConnection::establish(&args.url);
    // Every thread reaches the barrier, connected or not, so no one waits forever.
    barrier.wait();
    let mut conn = connected.map_err(|e| format!("connect: {e}"))?;
    // The session threadgate's pool sets on every new connection.
    conn.batch_execute("SET SESSION group_concat_max_len = 4294967295")
        .map_err(|e| format!("session setup: {e}"))?;
    let mut rng = rand::thread_rng();
    let total: i64 = args.ranges.iter().map(|&(lo, hi)| hi - lo + 1).sum();
    let mut tally = Tally {
        latencies_ns: Vec::with_capacity(1 << 18),
        ..Tally::default()
    };
    while !stop.load(Ordering::Relaxed) {
        let id = pick(&args.ranges, total, &mut rng);
        let start = Instant::now();
        // Built per call, as threadgate builds it per request; diesel finds the prepared
        // statement in the connection's cache by its text.
        let result = match args.mode {
            Mode::Select => single_sql(&tables, &CUSTOMER_THREADS, cols, id)
                .load(&mut conn)
                .map(|rows| rows.len()),
            mode => {
                let now = chrono::Local::now().format("%Y-%m-%d %H:%M:%S").to_string();
                let customer = rng.gen_range(1..=1000);
                write_sql(&tables, mode, id, customer, &now).execute(&mut conn)
            }
        };
        let elapsed = start.elapsed();
        tally.calls += 1;
        if !measuring.load(Ordering::Relaxed) {
            continue;
        }
        match result {
            Ok(rows) => {
                if rows == 0 {
                    tally.empty += 1;
                }
                tally.latencies_ns.push(elapsed.as_nanos() as u64);
            }
            Err(e) => {
                if tally.errors == 0 {
                    eprintln!("pointselect: {e}");
                }
                tally.errors += 1;
            }
        }
    }
    Ok(tally)
}

fn percentile_ms(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1e6
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("pointselect: {e}");
            return ExitCode::from(2);
        }
    };
    let cols = if args.full {
        Columns::for_display(&CUSTOMER_THREADS, &Display::Full)
    } else {
        Columns {
            fields: (0..CUSTOMER_THREADS.fields.len()).collect(),
            associations: false,
        }
    };
    let barrier = Barrier::new(args.concurrency + 1);
    let measuring = AtomicBool::new(false);
    let stop = AtomicBool::new(false);
    let (results, seconds) = std::thread::scope(|s| {
        let handles: Vec<_> = (0..args.concurrency)
            .map(|_| s.spawn(|| worker(&args, &cols, &barrier, &measuring, &stop)))
            .collect();
        barrier.wait();
        std::thread::sleep(Duration::from_secs_f64(args.warmup));
        measuring.store(true, Ordering::Relaxed);
        let start = Instant::now();
        std::thread::sleep(Duration::from_secs_f64(args.duration));
        measuring.store(false, Ordering::Relaxed);
        let seconds = start.elapsed().as_secs_f64();
        stop.store(true, Ordering::Relaxed);
        let results: Vec<_> = handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("worker panicked".to_string()))
            })
            .collect();
        (results, seconds)
    });
    let mut all = Vec::new();
    let (mut errors, mut empty, mut calls) = (0, 0, 0);
    for r in results {
        match r {
            Ok(t) => {
                all.extend(t.latencies_ns);
                errors += t.errors;
                empty += t.empty;
                calls += t.calls;
            }
            Err(e) => {
                eprintln!("pointselect: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    all.sort_unstable();
    let n = all.len() as u64;
    println!(
        "pointselect mode={} shape={} c={} requests={} seconds={:.3} rps={:.1} p50_ms={:.3} p99_ms={:.3} errors={} empty={} calls={}",
        args.mode.name(),
        match (args.mode, args.full) {
            (Mode::Select, true) => "full",
            (Mode::Select, false) => "row",
            _ => "-",
        },
        args.concurrency,
        n,
        seconds,
        n as f64 / seconds,
        percentile_ms(&all, 50.0),
        percentile_ms(&all, 99.0),
        errors,
        empty,
        calls,
    );
    if errors > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
