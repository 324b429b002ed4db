//! The `threadgate` command: serve, migrate, seed, tune, keys.

use anyhow::Context;
use clap::{Parser, Subcommand};
use diesel::Connection;

use threadgate::auth::admin::{self, CreateKey};
use threadgate::config::{Argon2Settings, DbSettings, ServeSettings};
use threadgate::db::{migrations, schema, tune, Tables};
use threadgate::resource::Method;
use threadgate::telemetry::LogFormat;
use threadgate::{seed, startup, telemetry};

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
            let tables = Tables::new(&db.table_prefix);
            let mut conn = connect(&db)?;
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
    }
}

/// `threadgate tune`: the report, after adding (`--apply`) or dropping (`--revert`) threadgate's
/// indexes (docs/tuning.md). Fails when an index could not be added.
fn tune_indexes(db: &DbSettings, apply: bool, revert: bool, json: bool) -> anyhow::Result<()> {
    let tables = Tables::new(&db.table_prefix);
    let mut conn = connect(db)?;
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
    let tables = Tables::new(&db.table_prefix);
    let mut conn = connect(db)?;
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
