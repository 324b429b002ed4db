//! The ceiling for `GET /api/customer_threads/{id}`: raw primary-key point selects on
//! `ps_customer_thread` through diesel, exactly as threadgate issues them (the same
//! `reads::single_sql` statement, a cached prepared statement, one `COM_STMT_EXECUTE` per call),
//! with one connection per thread and no HTTP in between.
//!
//!   pointselect --url URL --concurrency C --duration S (--max-id N | --ranges A-B,C-D,...)
//!               [--shape full|row] [--prefix ps_] [--warmup S]
//!
//! Ids are drawn uniformly from 1..=N, or from the existing ids given as ranges (InnoDB leaves
//! auto-increment gaps between the bulk seed's INSERT ... SELECT batches, so 1..=MAX has holes).
//! `--shape full` is threadgate's statement for `display=full` (the row plus the message ids
//! through a correlated GROUP_CONCAT subquery); `--shape row` selects the row alone.
//! Prints one line: `pointselect shape=.. c=.. requests=.. seconds=.. rps=.. p50_ms=..
//! p99_ms=.. errors=.. empty=.. calls=..` (scripts/bench parses it; `calls` counts every
//! statement run, warm-up included, to divide the server's statement counters by).

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::{Connection, MysqlConnection};
use rand::Rng;

use threadgate::db::reads::{single_sql, Columns};
use threadgate::db::Tables;
use threadgate::query::Display;
use threadgate::resource::customer_threads::CUSTOMER_THREADS;

struct Args {
    url: String,
    concurrency: usize,
    duration: f64,
    warmup: f64,
    /// Inclusive id ranges to draw from.
    ranges: Vec<(i64, i64)>,
    full: bool,
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
        let result = single_sql(&tables, &CUSTOMER_THREADS, cols, id).load(&mut conn);
        let elapsed = start.elapsed();
        tally.calls += 1;
        if !measuring.load(Ordering::Relaxed) {
            continue;
        }
        match result {
            Ok(rows) => {
                if rows.is_empty() {
                    tally.empty += 1;
                }
                tally.latencies_ns.push(elapsed.as_nanos() as u64);
            }
            Err(_) => tally.errors += 1,
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
        "pointselect shape={} c={} requests={} seconds={:.3} rps={:.1} p50_ms={:.3} p99_ms={:.3} errors={} empty={} calls={}",
        if args.full { "full" } else { "row" },
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
