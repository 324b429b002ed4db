//! The `threadgate` command: serve, migrate, seed, keys.

use anyhow::Context;
use clap::{Parser, Subcommand};
use diesel::Connection;

use threadgate::auth::admin::{self, CreateKey};
use threadgate::config::{DbSettings, ServeSettings};
use threadgate::db::{migrations, Tables};
use threadgate::resource::Method;
use threadgate::{seed, startup, telemetry};

#[derive(Parser)]
#[command(
    name = "threadgate",
    version,
    about = "PrestaShop's webservice for customer threads, served from Rust"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API.
    Serve {
        #[command(flatten)]
        db: DbSettings,
        #[command(flatten)]
        serve: ServeSettings,
    },
    /// Create the tables that are missing (never alters an existing one).
    Migrate {
        #[command(flatten)]
        db: DbSettings,
    },
    /// Add demo or benchmark rows.
    Seed {
        #[command(flatten)]
        db: DbSettings,
        /// The demo shop: the spec's example threads and messages.
        #[arg(long)]
        demo: bool,
        /// Add this many benchmark threads.
        #[arg(long)]
        threads: Option<u64>,
        /// Messages per benchmark thread.
        #[arg(long, default_value_t = 3)]
        messages: u32,
    },
    /// Manage API keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
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
    },
}

fn parse_method(s: &str) -> Result<Method, String> {
    Method::parse(&s.to_ascii_uppercase()).ok_or_else(|| format!("unknown method {s:?}"))
}

fn connect(db: &DbSettings) -> anyhow::Result<diesel::MysqlConnection> {
    diesel::MysqlConnection::establish(&db.database_url).context("connecting to the database")
}

fn now_utc() -> String {
    chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string()
}

fn main() -> anyhow::Result<()> {
    telemetry::init();
    match Cli::parse().command {
        Command::Serve { db, serve } => {
            actix_web::rt::System::new().block_on(startup::serve(db, serve))
        }
        Command::Migrate { db } => {
            let applied = migrations::run(&mut connect(&db)?, &db.table_prefix)?;
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
        Command::Keys { command } => match command {
            KeysCommand::Create {
                db,
                resources,
                methods,
                shops,
                description,
                key,
                inactive,
            } => {
                let tables = Tables::new(&db.table_prefix);
                let req = CreateKey {
                    resources,
                    methods,
                    shops,
                    description,
                    key,
                    active: !inactive,
                };
                let (id, key) = admin::create(&mut connect(&db)?, &tables, &req, &now_utc())?;
                eprintln!(
                    "key #{id} created; it is shown once and stored only as an argon2id hash"
                );
                println!("{key}");
                Ok(())
            }
        },
    }
}
