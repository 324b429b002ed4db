//! Webhook delivery for scripts/bench (`--only webhooks`): how fast the delivery workers drain
//! the event log into a receiver on loopback, and how long an event takes from its commit to
//! its arrival.
//!
//!   webhooks --url URL [--prefix ps_] [--events N] [--workers W] [--rate R] [--latency-events L]
//!            [--poll-ms P]
//!
//! One subscription to an HTTP/1.1 receiver in this process (keep-alive, answers 200 at once).
//! 1. Throughput: N events (default 5 000) are appended in one INSERT, then W workers (default
//!    2, as `threadgate serve`), each with its own connection, deliver until the receiver has
//!    them all: events/s over that time.
//! 2. Delay: with the workers running as `threadgate serve` runs them (idle pause P ms, default
//!    500, `THREADGATE_DELIVERY_POLL_MS`), L events (default 1 000) are appended one by one at
//!    R per second (default 200); each event's delay is its arrival minus its `created_at`
//!    (the database's UTC clock, on the same machine).
//!
//! Prints one line: `webhooks events=.. workers=.. seconds=.. events_per_s=.. latency_events=..
//! rate=.. poll_ms=.. p50_ms=.. p99_ms=.. max_ms=.. duplicates=..`. The subscription is removed
//! at the end; the events stay.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use clap::Parser;
use diesel::connection::SimpleConnection;
use diesel::{Connection, MysqlConnection};

use threadgate::config::DeliverySettings;
use threadgate::db::delivery as store;
use threadgate::db::Tables;
use threadgate::delivery::sign::{self, SecretKey};
use threadgate::delivery::Worker;

#[derive(Parser)]
struct Args {
    #[arg(long)]
    url: String,
    #[arg(long, default_value = "ps_")]
    prefix: String,
    #[arg(long, default_value_t = 5_000)]
    events: u64,
    #[arg(long, default_value_t = 2)]
    workers: usize,
    #[arg(long, default_value_t = 200)]
    rate: u64,
    #[arg(long, default_value_t = 1_000)]
    latency_events: u64,
    #[arg(long, default_value_t = 500)]
    poll_ms: u64,
}

/// Arrival times by event id, and how many arrived more than once.
#[derive(Default)]
struct Arrivals {
    at: HashMap<u64, SystemTime>,
    duplicates: u64,
}

fn receiver(arrivals: Arc<Mutex<Arrivals>>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the receiver");
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let arrivals = arrivals.clone();
            std::thread::spawn(move || {
                let _ = stream.set_nodelay(true);
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut out = stream;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let (mut len, mut id) = (0usize, 0u64);
                    loop {
                        let mut h = String::new();
                        if reader.read_line(&mut h).unwrap_or(0) == 0 {
                            return;
                        }
                        let h = h.trim_end();
                        if h.is_empty() {
                            break;
                        }
                        if let Some((n, v)) = h.split_once(':') {
                            if n.eq_ignore_ascii_case("content-length") {
                                len = v.trim().parse().unwrap_or(0);
                            } else if n.eq_ignore_ascii_case("x-threadgate-event-id") {
                                id = v.trim().parse().unwrap_or(0);
                            }
                        }
                    }
                    let mut body = vec![0; len];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    {
                        let mut a = arrivals.lock().unwrap();
                        if a.at.insert(id, SystemTime::now()).is_some() {
                            a.duplicates += 1;
                        }
                    }
                    if out
                        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    port
}

fn settings(poll_ms: u64) -> DeliverySettings {
    #[derive(Parser)]
    struct S {
        #[command(flatten)]
        delivery: DeliverySettings,
    }
    let mut s = S::parse_from(["bench"]).delivery;
    s.delivery_poll_ms = poll_ms;
    s
}

fn insert_events(conn: &mut MysqlConnection, tables: &Tables, n: u64) {
    let mut sql = format!(
        "INSERT INTO {} (`type`, id_customer_thread, id_customer_message, id_shop, source, id_key, data, created_at) VALUES ",
        tables.name("threadgate_event")
    );
    for i in 0..n {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!(
            "('message.created', {}, {}, 1, 'shop', NULL, '{{\"id_employee\":0,\"private\":0,\"notify_customer\":false}}', UTC_TIMESTAMP(6))",
            1 + i % 1000,
            1 + i
        ));
    }
    conn.batch_execute(&sql).expect("append events");
}

fn main() -> ExitCode {
    let args = Args::parse();
    let tables = Tables::new(&args.prefix);
    let mut conn = MysqlConnection::establish(&args.url).expect("connect");
    let arrivals = Arc::new(Mutex::new(Arrivals::default()));
    let port = receiver(arrivals.clone());
    let key = SecretKey::generate();
    let events = vec!["*".to_owned()];
    let id = store::insert_webhook(
        &mut conn,
        &tables,
        &store::NewWebhook {
            url: &format!("http://127.0.0.1:{port}/bench"),
            events: &events,
            resource: None,
            shop: None,
            secret: &key.encrypt(&sign::new_secret()),
        },
        Duration::from_secs(10),
    )
    .expect("add the subscription");

    let stop = Arc::new(AtomicBool::new(false));
    let run = |poll_ms: u64| {
        (0..args.workers)
            .map(|n| {
                let worker = Worker::new(
                    tables.clone(),
                    settings(poll_ms),
                    Some(key.clone()),
                    format!("bench-{n}"),
                );
                let url = args.url.clone();
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut conn = MysqlConnection::establish(&url).expect("connect");
                    while !stop.load(Ordering::Relaxed) {
                        match worker.step(&mut conn) {
                            Ok(r) if r.did_work() => {}
                            Ok(_) => std::thread::sleep(Duration::from_millis(poll_ms)),
                            Err(e) => panic!("delivery pass: {e}"),
                        }
                    }
                })
            })
            .collect::<Vec<_>>()
    };
    let wait_for = |n: usize, limit: Duration| {
        let deadline = Instant::now() + limit;
        while arrivals.lock().unwrap().at.len() < n {
            assert!(Instant::now() < deadline, "the events did not all arrive");
            std::thread::sleep(Duration::from_millis(5));
        }
    };

    // 1. Throughput: a backlog drained as fast as the workers go.
    insert_events(&mut conn, &tables, args.events);
    let started = Instant::now();
    let handles = run(1);
    wait_for(args.events as usize, Duration::from_secs(600));
    let seconds = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().unwrap();
    }
    stop.store(false, Ordering::Relaxed);

    // 2. Delay from commit to arrival, at a steady rate, with the serve-time idle pause.
    let first_id = store::max_event_id(&mut conn, &tables).unwrap() + 1;
    let handles = run(args.poll_ms);
    let every = Duration::from_secs_f64(1.0 / args.rate.max(1) as f64);
    let mut next = Instant::now();
    for _ in 0..args.latency_events {
        insert_events(&mut conn, &tables, 1);
        next += every;
        if let Some(d) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(d);
        }
    }
    wait_for(
        (args.events + args.latency_events) as usize,
        Duration::from_secs(120),
    );
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().unwrap();
    }
    let created: Vec<(u64, String)> = threadgate::delivery::read_events(
        &mut conn,
        &tables,
        first_id - 1,
        args.latency_events as u32,
        Duration::from_secs(10),
    )
    .unwrap()
    .into_iter()
    .map(|e| (e.id, e.created_at))
    .collect();
    let a = arrivals.lock().unwrap();
    let mut delays: Vec<f64> = created
        .iter()
        .filter_map(|(id, at)| {
            let t = chrono::NaiveDateTime::parse_from_str(at, "%Y-%m-%d %H:%M:%S%.f")
                .ok()?
                .and_utc();
            let arrived: chrono::DateTime<chrono::Utc> = (*a.at.get(id)?).into();
            Some((arrived - t).num_microseconds()? as f64 / 1000.0)
        })
        .collect();
    delays.sort_by(f64::total_cmp);
    let pct = |p: f64| delays[((delays.len() as f64 * p) as usize).min(delays.len() - 1)];
    store::remove_webhook(&mut conn, &tables, id).unwrap();
    println!(
        "webhooks events={} workers={} seconds={seconds:.2} events_per_s={:.0} latency_events={} rate={} poll_ms={} p50_ms={:.1} p99_ms={:.1} max_ms={:.1} duplicates={}",
        args.events,
        args.workers,
        args.events as f64 / seconds,
        delays.len(),
        args.rate,
        args.poll_ms,
        pct(0.50),
        pct(0.99),
        delays.last().copied().unwrap_or(0.0),
        a.duplicates
    );
    ExitCode::SUCCESS
}
