//! The `threadgate` command: serve, migrate, seed, tune, keys, events, webhooks.

use anyhow::Context;
use clap::{Parser, Subcommand};
use diesel::Connection;

use threadgate::auth::admin::{self, CreateKey};
use threadgate::config::{
    Argon2Settings, DbSettings, EventReadSettings, SecretKeySettings, ServeSettings,
};
use threadgate::db::{migrations, schema, tune, Tables};
use threadgate::resource::Method;
use threadgate::telemetry::LogFormat;
use threadgate::{seed, startup, telemetry};

/// mimalloc instead of glibc's malloc. A request allocates and frees a few hundred small
/// blocks, many of them on another thread than the one that allocated them (rows are read on
/// the blocking pool, rendered and dropped on an actix worker); glibc's malloc spent about a
/// sixth of the server's CPU time on that (`malloc`, `_int_free`, `malloc_consolidate` in a perf
/// profile of GET by id at c = 8). docs/architecture.md, "GET by id: where the time goes".
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "threadgate",
    version,
    about = "PrestaShop's webservice for customer threads, served from Rust"
)]
struct Cli {
    /// Log lines as text or as one JSON object per line.
    #[arg(
        long,
        env = "THREADGATE_LOG_FORMAT",
        default_value = "text",
        value_enum,
        global = true
    )]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

// Parsed once at start: the size of the `serve` variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Serve the API.
    Serve {
        #[command(flatten)]
        db: DbSettings,
        #[command(flatten)]
        serve: ServeSettings,
    },
    /// Create the tables that are missing (never alters an existing one). Refuses when the
    /// database holds a shop under another prefix and none under this one.
    Migrate {
        #[command(flatten)]
        db: DbSettings,
        /// Create a whole new, empty shop schema under the prefix even though the database
        /// holds PrestaShop tables under another prefix.
        #[arg(long)]
        create_shop_schema: bool,
    },
    /// Add demo or benchmark rows.
    Seed {
        #[command(flatten)]
        db: DbSettings,
        /// The demo shop: the example threads and messages of docs/prestashop/documents.md.
        #[arg(long)]
        demo: bool,
        /// Add this many benchmark threads.
        #[arg(long)]
        threads: Option<u64>,
        /// Messages per benchmark thread.
        #[arg(long, default_value_t = 3)]
        messages: u32,
    },
    /// Watch the event log (docs/events.md).
    Events {
        #[command(subcommand)]
        command: EventsCommand,
    },
    /// Report which of threadgate's queries an index serves (EXPLAIN); add the missing
    /// `threadgate_*` secondary indexes online, or drop them again (docs/tuning.md). Never
    /// touches a column, a row or an index PrestaShop created.
    Tune {
        #[command(flatten)]
        db: DbSettings,
        /// Add the missing `threadgate_*` indexes (ALGORITHM=INPLACE, LOCK=NONE).
        #[arg(long, conflicts_with = "revert")]
        apply: bool,
        /// Drop every `threadgate_*` index of the tables threadgate reads.
        #[arg(long)]
        revert: bool,
        /// Print JSON instead of text meant for people.
        #[arg(long)]
        json: bool,
    },
    /// Manage API keys.
    Keys {
        /// Print JSON instead of text meant for people.
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Manage webhook subscriptions (docs/events.md, "Webhooks").
    Webhooks {
        /// Print JSON instead of text meant for people.
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        command: WebhooksCommand,
    },
}

#[derive(Subcommand)]
enum WebhooksCommand {
    /// Subscribe a URL to events; prints the signing secret (once) as the only line on stdout.
    Add {
        #[command(flatten)]
        db: DbSettings,
        #[command(flatten)]
        secret: SecretKeySettings,
        /// Where to POST the events (http:// or https://).
        #[arg(long)]
        url: String,
        /// Event types, comma-separated: message.created, thread.updated, ..., thread.*,
        /// message.* or *.
        #[arg(long, value_delimiter = ',', required = true)]
        events: Vec<String>,
        /// Only this resource's events: customer_threads or customer_messages.
        #[arg(long)]
        resource: Option<String>,
        /// Only this shop's events.
        #[arg(long)]
        shop: Option<u32>,
        #[command(flatten)]
        read: EventReadSettings,
    },
    /// List subscriptions: position, state, last error, deliveries (never the secret).
    List {
        #[command(flatten)]
        db: DbSettings,
    },
    /// Delete a subscription.
    Remove {
        #[command(flatten)]
        db: DbSettings,
        id: u32,
    },
    /// Stop delivering to a subscription (its position is kept).
    Pause {
        #[command(flatten)]
        db: DbSettings,
        id: u32,
    },
    /// Deliver again from where the subscription stopped, at once.
    Resume {
        #[command(flatten)]
        db: DbSettings,
        id: u32,
    },
    /// POST a signed `webhook.test` event to the subscription's URL now and print the answer.
    Test {
        #[command(flatten)]
        db: DbSettings,
        #[command(flatten)]
        secret: SecretKeySettings,
        id: u32,
    },
    /// Deliver again every event after CURSOR (an event id; 0: the whole log that is kept).
    Replay {
        #[command(flatten)]
        db: DbSettings,
        id: u32,
        #[arg(long = "from")]
        from: String,
    },
}

/// Resources × methods and shops, for `grant` and `deny`.
#[derive(clap::Args)]
struct GrantArgs {
    #[command(flatten)]
    db: DbSettings,
    /// The key's id (`keys list`).
    id: u32,
    /// A resource (repeatable), e.g. customer_threads.
    #[arg(long = "resource")]
    resources: Vec<String>,
    /// A method on every listed resource (repeatable or comma-separated).
    #[arg(long = "method", value_delimiter = ',', value_parser = parse_method)]
    methods: Vec<Method>,
    /// A shop (repeatable).
    #[arg(long = "shop")]
    shops: Vec<u32>,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create a key; prints the key (once) as the only line on stdout.
    Create {
        #[command(flatten)]
        db: DbSettings,
        /// A resource the key may use (repeatable), e.g. customer_threads.
        #[arg(long = "resource", required = true)]
        resources: Vec<String>,
        /// A method granted on every listed resource (repeatable or comma-separated):
        /// GET, HEAD, POST, PUT, PATCH, DELETE.
        #[arg(long = "method", value_delimiter = ',', required = true, value_parser = parse_method)]
        methods: Vec<Method>,
        /// A shop the key may be used on (repeatable); default: every shop.
        #[arg(long = "shop")]
        shops: Vec<u32>,
        #[arg(long, default_value = "")]
        description: String,
        /// Store this key instead of generating one.
        #[arg(long, env = "THREADGATE_NEW_KEY", hide_env_values = true)]
        key: Option<String>,
        /// Create the key disabled.
        #[arg(long)]
        inactive: bool,
        #[command(flatten)]
        argon2: Argon2Settings,
    },
    /// List keys: id, description, active, permissions, shops, created and last-used times
    /// (never the key).
    List {
        #[command(flatten)]
        db: DbSettings,
    },
    /// Disable a key; every running server refuses it from its next request.
    Revoke {
        #[command(flatten)]
        db: DbSettings,
        id: u32,
    },
    /// Enable a key again.
    Enable {
        #[command(flatten)]
        db: DbSettings,
        id: u32,
    },
    /// Add permissions (resources × methods) and shops to a key.
    Grant(GrantArgs),
    /// Remove permissions (resources × methods) and shops from a key.
    Deny(GrantArgs),
    /// Copy the shop's webservice keys (webservice_account, _permission, _account_shop) into
    /// the hashed store, with the same permissions, shops and active flag; re-running updates.
    ImportPrestashop {
        #[command(flatten)]
        db: DbSettings,
        #[command(flatten)]
        argon2: Argon2Settings,
    },
}

#[derive(Subcommand)]
enum EventsCommand {
    /// Print events as they are appended, one per line, until Ctrl-C (every resource and
    /// shop: this reads the database, not the change feed).
    Tail {
        #[command(flatten)]
        db: DbSettings,
        /// Start after this change feed cursor (`start`: from the oldest event kept); default:
        /// only the events appended from now on.
        #[arg(long)]
        from: Option<String>,
        /// One JSON object per line (the change feed's event documents).
        #[arg(long)]
        json: bool,
        /// Milliseconds between two reads when there is nothing new.
        #[arg(long, default_value_t = 1000)]
        interval_ms: u64,
        /// Print what there is and stop, instead of waiting for more.
        #[arg(long)]
        once: bool,
        #[command(flatten)]
        read: EventReadSettings,
    },
    /// Run the watcher's poll (docs/events.md, "Outside changes") on one connection, as a
    /// server does, and print what a poll costs the database: rows read (the session's
    /// Handler_read_* counters) and time. The polls are real: they log what they find.
    WatchCost {
        #[command(flatten)]
        db: DbSettings,
        /// Polls to measure (after a first one that sets the marks if needed).
        #[arg(long, default_value_t = 10)]
        polls: u32,
        /// Measure polls without the scan for changed threads (new rows only).
        #[arg(long)]
        no_updates: bool,
    },
}

fn parse_method(s: &str) -> Result<Method, String> {
    Method::parse(&s.to_ascii_uppercase()).ok_or_else(|| format!("unknown method {s:?}"))
}

fn connect(db: &DbSettings) -> anyhow::Result<diesel::MysqlConnection> {
    diesel::MysqlConnection::establish(&db.database_url).with_context(|| {
        format!(
            "could not connect to the database ({}); check DATABASE_URL (or --database-url)",
            schema::describe_url(&db.database_url)
        )
    })
}

/// A connection and the prefix's table names: what every command but `serve` and `migrate`
/// starts with.
fn open_db(db: &DbSettings) -> anyhow::Result<(diesel::MysqlConnection, Tables)> {
    Ok((connect(db)?, Tables::new(&db.table_prefix)))
}

fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

fn print_keys(keys: &[threadgate::db::key_store::KeyInfo]) {
    if keys.is_empty() {
        println!("no keys");
    }
    for k in keys {
        println!(
            "#{id}  {state}  {desc}",
            id = k.id,
            state = if k.active { "active" } else { "REVOKED" },
            desc = if k.description.is_empty() {
                "(no description)"
            } else {
                &k.description
            }
        );
        let mut by_resource: Vec<(String, Vec<String>)> = Vec::new();
        for (r, m) in &k.permissions {
            match by_resource.iter_mut().find(|(x, _)| x == r) {
                Some((_, ms)) => ms.push(m.clone()),
                None => by_resource.push((r.clone(), vec![m.clone()])),
            }
        }
        let perms: Vec<String> = by_resource
            .iter()
            .map(|(r, ms)| format!("{r} {}", ms.join(",")))
            .collect();
        println!(
            "    permissions: {}",
            if perms.is_empty() {
                "none".into()
            } else {
                perms.join("; ")
            }
        );
        let shops: Vec<String> = k.shops.iter().map(u32::to_string).collect();
        println!("    shops: {}", shops.join(", "));
        println!(
            "    created {}, last used {}{}",
            k.created,
            k.last_used.as_deref().unwrap_or("never"),
            k.imported_from
                .map(|a| format!(", imported from PrestaShop account #{a}"))
                .unwrap_or_default()
        );
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    telemetry::init(cli.log_format);
    match cli.command {
        Command::Serve { db, serve } => {
            actix_web::rt::System::new().block_on(startup::serve(db, serve))
        }
        Command::Migrate {
            db,
            create_shop_schema,
        } => {
            let mut conn = connect(&db)?;
            let found = schema::scan(&mut conn).context("listing the database's tables")?;
            if !create_shop_schema {
                schema::check_prefix(&found, &db.table_prefix).map_err(anyhow::Error::msg)?;
            }
            let applied = migrations::run(&mut conn, &db.table_prefix)?;
            eprintln!("{} migration(s) applied", applied.len());
            Ok(())
        }
        Command::Seed {
            db,
            demo,
            threads,
            messages,
        } => {
            let (mut conn, tables) = open_db(&db)?;
            if demo {
                seed::demo(&mut conn, &tables)?;
                eprintln!("demo shop seeded");
            }
            if let Some(n) = threads {
                seed::bulk(&mut conn, &tables, n, messages)?;
                eprintln!("{n} threads with {messages} messages each added");
            }
            Ok(())
        }
        Command::Tune {
            db,
            apply,
            revert,
            json,
        } => tune_indexes(&db, apply, revert, json),
        Command::Keys { json, command } => keys(json, command),
        Command::Events {
            command:
                EventsCommand::Tail {
                    db,
                    from,
                    json,
                    interval_ms,
                    once,
                    read,
                },
        } => tail(
            &db,
            from.as_deref(),
            json,
            interval_ms,
            once,
            read.gap_wait(),
        ),
        Command::Events {
            command:
                EventsCommand::WatchCost {
                    db,
                    polls,
                    no_updates,
                },
        } => watch_cost(&db, polls, !no_updates),
        Command::Webhooks { json, command } => webhooks(json, command),
    }
}

/// `threadgate events watch-cost`.
fn watch_cost(db: &DbSettings, polls: u32, scan_updates: bool) -> anyhow::Result<()> {
    use threadgate::db::events as event_log;
    use threadgate::db::sql::Sql;

    let (mut conn, tables) = open_db(db)?;
    // The shop's now as a server has it (PS_TIMEZONE, else THREADGATE_TIMEZONE, else UTC):
    // the watcher's `date_upd` mark never passes it. Read once: the measured polls run only
    // their own statements.
    let now = |conn: &mut diesel::MysqlConnection| admin::shop_now(conn, &tables);
    let counters = |conn: &mut diesel::MysqlConnection| -> anyhow::Result<Vec<(String, u64)>> {
        Ok(Sql::new(
            "SELECT VARIABLE_NAME, CAST(VARIABLE_VALUE AS CHAR) FROM information_schema.SESSION_STATUS \
             WHERE VARIABLE_NAME LIKE 'HANDLER_READ%' ORDER BY VARIABLE_NAME",
        )
        .load(conn)?
        .into_iter()
        .map(|r| {
            (
                r.0[0].clone().unwrap_or_default().to_ascii_lowercase(),
                r.0[1].as_deref().and_then(|v| v.parse().ok()).unwrap_or(0),
            )
        })
        .collect())
    };
    let shop_now = now(&mut conn);
    let first = event_log::poll(&mut conn, &tables, &shop_now, true)?;
    eprintln!("first poll: {first:?}");
    let before = counters(&mut conn)?;
    let started = std::time::Instant::now();
    let mut appended = 0;
    for _ in 0..polls.max(1) {
        appended += event_log::poll(&mut conn, &tables, &shop_now, scan_updates)?.appended;
    }
    let elapsed = started.elapsed();
    let after = counters(&mut conn)?;
    let n = u64::from(polls.max(1));
    let mut total = 0;
    let mut parts = Vec::new();
    for ((name, b), (_, a)) in before.iter().zip(&after) {
        // The counter query itself reads information_schema rows: not counted here.
        let d = a.saturating_sub(*b) / n;
        total += d;
        if d > 0 {
            parts.push(format!("{name}={d}"));
        }
    }
    println!(
        "polls={n} ms_per_poll={:.2} rows_read_per_poll={total} ({}) events_appended={appended}",
        elapsed.as_secs_f64() * 1000.0 / n as f64,
        parts.join(" ")
    );
    Ok(())
}

/// `threadgate events tail`: the change feed's reading (up to the readable horizon),
/// unfiltered, straight from the table.
fn tail(
    db: &DbSettings,
    from: Option<&str>,
    json: bool,
    interval_ms: u64,
    once: bool,
    gap_wait: std::time::Duration,
) -> anyhow::Result<()> {
    use std::io::Write as _;
    use threadgate::db::events::{self as event_log, FeedError};
    use threadgate::events::{self, Filter};

    let (mut conn, tables) = open_db(db)?;
    let mut cursor = match from {
        Some("start") => None,
        Some(c) => Some(events::decode_cursor(c.trim()).ok_or_else(|| {
            anyhow::anyhow!("--from {c:?} is not a change feed cursor (or `start`)")
        })?),
        None => Some(event_log::newest(&mut conn, &tables, gap_wait)?),
    };
    let everything = Filter::everything();
    let mut out = std::io::stdout().lock();
    loop {
        let page = match event_log::feed(&mut conn, &tables, cursor, 500, &everything, gap_wait) {
            Ok(p) => p,
            Err(FeedError::Expired { purged_through }) => anyhow::bail!(
                "events after this cursor were purged (every event up to #{purged_through} is gone); start again with --from start"
            ),
            Err(FeedError::Db(e)) => return Err(e.into()),
        };
        for e in &page.events {
            if json {
                writeln!(out, "{}", e.to_json())?;
            } else {
                writeln!(out, "{}", e.to_line())?;
            }
        }
        out.flush()?;
        cursor = Some(page.last_id);
        if page.end_of_stream {
            if once {
                if !json {
                    eprintln!("cursor: {}", events::encode_cursor(page.last_id));
                }
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(interval_ms.max(50)));
        }
    }
}

/// `threadgate tune`: the report, after adding (`--apply`) or dropping (`--revert`) threadgate's
/// indexes (docs/tuning.md). Fails when an index could not be added.
fn tune_indexes(db: &DbSettings, apply: bool, revert: bool, json: bool) -> anyhow::Result<()> {
    let (mut conn, tables) = open_db(db)?;
    let (changed, failed) = if apply {
        tune::apply(&mut conn, &tables)?
    } else if revert {
        (tune::revert(&mut conn, &tables)?, Vec::new())
    } else {
        (Vec::new(), Vec::new())
    };
    let mut report = tune::report(&mut conn, &tables)?;
    report.changed = changed;
    report.failed = failed;
    if json {
        print_json(&report)?;
    } else {
        print!("{}", tune::text(&report));
    }
    if !report.failed.is_empty() {
        anyhow::bail!("{} index(es) could not be added", report.failed.len());
    }
    Ok(())
}

fn keys(json: bool, command: KeysCommand) -> anyhow::Result<()> {
    let enable = matches!(command, KeysCommand::Enable { .. });
    let grant = matches!(command, KeysCommand::Grant(_));
    match command {
        KeysCommand::Create {
            db,
            resources,
            methods,
            shops,
            description,
            key,
            inactive,
            argon2,
        } => {
            let req = CreateKey {
                resources,
                methods,
                shops,
                description,
                key,
                active: !inactive,
            };
            keys_create(json, &db, &req, &argon2)
        }
        KeysCommand::List { db } => {
            let (mut conn, tables, _) = open_key_store(&db)?;
            let keys = admin::list(&mut conn, &tables)?;
            if json {
                return print_json(&keys);
            }
            print_keys(&keys);
            Ok(())
        }
        KeysCommand::Revoke { db, id } | KeysCommand::Enable { db, id } => {
            keys_set_active(json, &db, id, enable)
        }
        KeysCommand::Grant(a) | KeysCommand::Deny(a) => keys_change_grants(json, &a, grant),
        KeysCommand::ImportPrestashop { db, argon2 } => keys_import(json, &db, &argon2),
    }
}

/// A connection for `keys ...`, the table names and the shop's "now".
fn open_key_store(db: &DbSettings) -> anyhow::Result<(diesel::MysqlConnection, Tables, String)> {
    let (mut conn, tables) = open_db(db)?;
    let now = admin::shop_now(&mut conn, &tables);
    Ok((conn, tables, now))
}

/// `keys create`.
fn keys_create(
    json: bool,
    db: &DbSettings,
    req: &CreateKey,
    argon2: &Argon2Settings,
) -> anyhow::Result<()> {
    let (mut conn, tables, now) = open_key_store(db)?;
    let (id, key) = admin::create(&mut conn, &tables, req, argon2, &now)?;
    if json {
        return print_json(&serde_json::json!({ "id": id, "key": key }));
    }
    eprintln!("key #{id} created; it is shown once and stored only as an argon2id hash");
    println!("{key}");
    Ok(())
}

/// `keys revoke` and `keys enable`.
fn keys_set_active(json: bool, db: &DbSettings, id: u32, active: bool) -> anyhow::Result<()> {
    let (mut conn, tables, now) = open_key_store(db)?;
    admin::set_active(&mut conn, &tables, id, active, &now)?;
    let state = if active { "enabled" } else { "revoked" };
    if json {
        return print_json(&serde_json::json!({ "id": id, "active": active }));
    }
    println!("key #{id} {state}; running servers apply it from their next request");
    Ok(())
}

/// `keys grant` (`add`) and `keys deny`.
fn keys_change_grants(json: bool, a: &GrantArgs, add: bool) -> anyhow::Result<()> {
    let (mut conn, tables, now) = open_key_store(&a.db)?;
    let change = admin::GrantChange {
        resources: a.resources.clone(),
        methods: a.methods.clone(),
        shops: a.shops.clone(),
        add,
    };
    admin::change_grants(&mut conn, &tables, a.id, &change, &now)?;
    let key = admin::list(&mut conn, &tables)?
        .into_iter()
        .find(|k| k.id == a.id);
    if json {
        return print_json(&key);
    }
    print_keys(key.as_slice());
    Ok(())
}

/// `keys import-prestashop`.
fn keys_import(json: bool, db: &DbSettings, argon2: &Argon2Settings) -> anyhow::Result<()> {
    let (mut conn, tables, now) = open_key_store(db)?;
    let report = admin::import_prestashop(&mut conn, &tables, argon2, &now)?;
    if json {
        return print_json(&report);
    }
    for (account, id) in &report.created {
        println!("PrestaShop account #{account} imported as key #{id}");
    }
    for (account, id) in &report.updated {
        println!("PrestaShop account #{account} already imported as key #{id}: updated");
    }
    for account in &report.skipped {
        println!("PrestaShop account #{account} skipped: its key is not 32 characters");
    }
    for (account, id) in &report.disabled {
        println!(
            "PrestaShop account #{account} is gone or unusable in the Back Office: key #{id} disabled"
        );
    }
    println!(
        "{} imported, {} updated, {} skipped, {} disabled; the imported keys stay valid for existing clients",
        report.created.len(),
        report.updated.len(),
        report.skipped.len(),
        report.disabled.len()
    );
    Ok(())
}

fn webhooks(json: bool, command: WebhooksCommand) -> anyhow::Result<()> {
    use threadgate::db::delivery as store;
    let missing = |id: u32| anyhow::anyhow!("no webhook #{id} (threadgate webhooks list)");
    let resume = matches!(command, WebhooksCommand::Resume { .. });
    let show = |conn: &mut diesel::MysqlConnection, tables: &Tables, id: u32| {
        let row = store::get_webhook(conn, tables, id)?.ok_or_else(|| missing(id))?;
        let max = store::max_event_id(conn, tables)?;
        if json {
            print_json(&row)
        } else {
            print_webhooks(&[row], max);
            Ok(())
        }
    };
    match command {
        WebhooksCommand::Add {
            db,
            secret,
            url,
            events,
            resource,
            shop,
            read,
        } => webhooks_add(
            json,
            &db,
            &secret,
            &url,
            &events,
            resource.as_deref(),
            shop,
            read.gap_wait(),
        ),
        WebhooksCommand::List { db } => {
            let (mut conn, tables) = open_db(&db)?;
            let rows = store::list_webhooks(&mut conn, &tables)?;
            if json {
                return print_json(&rows);
            }
            let max = store::max_event_id(&mut conn, &tables)?;
            print_webhooks(&rows, max);
            Ok(())
        }
        WebhooksCommand::Remove { db, id } => {
            let (mut conn, tables) = open_db(&db)?;
            if !store::remove_webhook(&mut conn, &tables, id)? {
                return Err(missing(id));
            }
            if json {
                return print_json(&serde_json::json!({ "id": id, "removed": true }));
            }
            println!("webhook #{id} removed");
            Ok(())
        }
        WebhooksCommand::Pause { db, id } | WebhooksCommand::Resume { db, id } => {
            let (mut conn, tables) = open_db(&db)?;
            if !store::set_webhook_state(&mut conn, &tables, id, resume, "paused by an operator")? {
                return Err(missing(id));
            }
            show(&mut conn, &tables, id)
        }
        WebhooksCommand::Test { db, secret, id } => webhooks_test(json, &db, &secret, id),
        WebhooksCommand::Replay { db, id, from } => {
            let after: u64 = from.trim().parse().map_err(|_| {
                anyhow::anyhow!(
                    "--from must be an event id (the events after it are delivered again)"
                )
            })?;
            let (mut conn, tables) = open_db(&db)?;
            if !store::replay_webhook(&mut conn, &tables, id, after)? {
                return Err(missing(id));
            }
            if !json {
                eprintln!("webhook #{id} will deliver again every event after #{after}");
            }
            show(&mut conn, &tables, id)
        }
    }
}

/// `webhooks add`.
#[allow(clippy::too_many_arguments)]
fn webhooks_add(
    json: bool,
    db: &DbSettings,
    secret: &SecretKeySettings,
    url: &str,
    events: &[String],
    resource: Option<&str>,
    shop: Option<u32>,
    gap_wait: std::time::Duration,
) -> anyhow::Result<()> {
    use threadgate::db::delivery as store;
    use threadgate::delivery::{self, sign};
    delivery::check_url(url).map_err(anyhow::Error::msg)?;
    let events = delivery::parse_event_types(events).map_err(anyhow::Error::msg)?;
    if let Some(r) = resource {
        anyhow::ensure!(
            r == "customer_threads" || r == "customer_messages",
            "--resource must be customer_threads or customer_messages"
        );
    }
    let key = match (&secret.secret_key, &secret.secret_key_file) {
        (Some(k), _) => sign::SecretKey::parse(k)?,
        (None, Some(path)) => {
            let (key, created) = sign::SecretKey::read_or_create_file(path)?;
            if created {
                eprintln!(
                    "secret key file {} created: every node that serves needs it",
                    path.display()
                );
            }
            key
        }
        (None, None) => anyhow::bail!(
            "set THREADGATE_SECRET_KEY_FILE (or --secret-key-file): the key that \
             encrypts webhook secrets in the database (docs/events.md)"
        ),
    };
    let (mut conn, tables) = open_db(db)?;
    let plain = sign::new_secret();
    let stored = key.encrypt(&plain);
    let id = store::insert_webhook(
        &mut conn,
        &tables,
        &store::NewWebhook {
            url,
            events: &events,
            resource,
            shop,
            secret: &stored,
        },
        gap_wait,
    )?;
    if json {
        return print_json(&serde_json::json!({ "id": id, "secret": plain }));
    }
    eprintln!("webhook #{id} added; its signing secret is shown once and stored encrypted");
    println!("{plain}");
    Ok(())
}

/// `webhooks test`.
fn webhooks_test(
    json: bool,
    db: &DbSettings,
    secret: &SecretKeySettings,
    id: u32,
) -> anyhow::Result<()> {
    use threadgate::db::delivery as store;
    use threadgate::delivery;
    let (mut conn, tables) = open_db(db)?;
    let row = store::get_webhook(&mut conn, &tables, id)?
        .ok_or_else(|| anyhow::anyhow!("no webhook #{id} (threadgate webhooks list)"))?;
    let key = delivery::secret_key(secret)?.ok_or_else(|| {
        anyhow::anyhow!("set THREADGATE_SECRET_KEY_FILE (or --secret-key-file) to sign")
    })?;
    let plain = key.decrypt(&row.secret)?;
    let body = serde_json::to_vec(&serde_json::json!({
        "id": 0,
        "type": "webhook.test",
        "created_at": chrono::Utc::now()
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "data": { "id_webhook": id },
    }))?;
    let agent = delivery::http_agent(std::time::Duration::from_secs(10));
    let result = delivery::post(&agent, &row.url, &plain, id, "0", "webhook.test", &body);
    if json {
        return print_json(&match &result {
            Ok(status) => serde_json::json!({ "id": id, "ok": true, "status": status }),
            Err(e) => serde_json::json!({ "id": id, "ok": false, "error": e }),
        });
    }
    match result {
        Ok(status) => {
            println!("webhook #{id}: {} answered HTTP {status}", row.url);
            Ok(())
        }
        Err(e) => anyhow::bail!("webhook #{id}: {}: {e}", row.url),
    }
}

fn print_webhooks(rows: &[threadgate::db::delivery::WebhookRow], newest_event: u64) {
    if rows.is_empty() {
        println!("no webhooks");
    }
    for w in rows {
        let mut filters = vec![format!("events {}", w.events.join(","))];
        if let Some(r) = &w.resource {
            filters.push(format!("resource {r}"));
        }
        if let Some(s) = w.shop {
            filters.push(format!("shop {s}"));
        }
        println!(
            "#{id}  {state}  {url}",
            id = w.id,
            state = w.state.to_uppercase(),
            url = w.url
        );
        println!("    {}", filters.join("; "));
        println!(
            "    position: event #{} ({} behind), {} delivered, {} failed attempts",
            w.position,
            newest_event.saturating_sub(w.position),
            w.delivered,
            w.failures
        );
        if let Some(reason) = &w.state_reason {
            println!("    paused: {reason}");
        }
        if let Some(e) = &w.last_error {
            println!(
                "    last error: {e} ({} attempts since {}, next {})",
                w.attempts,
                w.failing_since.as_deref().unwrap_or("?"),
                w.next_attempt_at.as_deref().unwrap_or("-")
            );
        }
        println!(
            "    created {} UTC, last delivery {}",
            w.created_at,
            w.last_delivered_at.as_deref().unwrap_or("never")
        );
    }
}
