//! Migrations with a run-time table prefix.
//!
//! The SQL files in `migrations/` name every table `` `ps_...` `` (so the diesel CLI can apply
//! them to a `ps_` database as they are); this source rewrites that prefix to the configured one
//! and hands them to diesel's migration harness. Versions carry the prefix when it is not
//! `ps_`, so two threadgate prefixes in one database each get their own tables.

use std::fmt;

use diesel::connection::BoxableConnection;
use diesel::migration::{
    Migration, MigrationMetadata, MigrationName, MigrationSource, MigrationVersion,
    Result as MigrationResult,
};
use diesel::mysql::{Mysql, MysqlConnection};
use diesel_migrations::MigrationHarness;

/// (directory name, up.sql, down.sql), in order.
const FILES: &[(&str, &str, &str)] = &[
    (
        "2026-11-21-000001_prestashop_tables",
        include_str!("../../migrations/2026-11-21-000001_prestashop_tables/up.sql"),
        include_str!("../../migrations/2026-11-21-000001_prestashop_tables/down.sql"),
    ),
    (
        "2026-11-21-000002_threadgate_keys",
        include_str!("../../migrations/2026-11-21-000002_threadgate_keys/up.sql"),
        include_str!("../../migrations/2026-11-21-000002_threadgate_keys/down.sql"),
    ),
    (
        "2026-11-21-000003_threadgate_key_usage",
        include_str!("../../migrations/2026-11-21-000003_threadgate_key_usage/up.sql"),
        include_str!("../../migrations/2026-11-21-000003_threadgate_key_usage/down.sql"),
    ),
    (
        "2026-12-06-000001_shop_url",
        include_str!("../../migrations/2026-12-06-000001_shop_url/up.sql"),
        include_str!("../../migrations/2026-12-06-000001_shop_url/down.sql"),
    ),
    (
        "2026-12-06-000030_threadgate_nodes",
        include_str!("../../migrations/2026-12-06-000030_threadgate_nodes/up.sql"),
        include_str!("../../migrations/2026-12-06-000030_threadgate_nodes/down.sql"),
    ),
];

/// How many migrations threadgate has (what `migrate` applies to an empty database).
pub fn count() -> usize {
    FILES.len()
}

/// Replaces the `ps_` prefix of every backticked table name.
pub fn apply_prefix(sql: &str, prefix: &str) -> String {
    sql.replace("`ps_", &format!("`{prefix}"))
}

struct PrefixedMigration {
    name: String,
    version: String,
    up: String,
    down: String,
}

struct Meta;
impl MigrationMetadata for Meta {
    // DDL commits implicitly in MySQL: a transaction would only pretend.
    fn run_in_transaction(&self) -> bool {
        false
    }
}

impl fmt::Display for PrefixedMigration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl MigrationName for PrefixedMigration {
    fn version(&self) -> MigrationVersion<'_> {
        MigrationVersion::from(self.version.as_str())
    }
}

impl Migration<Mysql> for PrefixedMigration {
    fn run(&self, conn: &mut dyn BoxableConnection<Mysql>) -> MigrationResult<()> {
        conn.batch_execute(&self.up)?;
        Ok(())
    }

    fn revert(&self, conn: &mut dyn BoxableConnection<Mysql>) -> MigrationResult<()> {
        conn.batch_execute(&self.down)?;
        Ok(())
    }

    fn metadata(&self) -> &dyn MigrationMetadata {
        &Meta
    }

    fn name(&self) -> &dyn MigrationName {
        self
    }
}

/// The project's migrations for one prefix.
pub struct PrefixedMigrations {
    pub prefix: String,
}

impl MigrationSource<Mysql> for PrefixedMigrations {
    fn migrations(&self) -> MigrationResult<Vec<Box<dyn Migration<Mysql>>>> {
        Ok(FILES
            .iter()
            .map(|(dir, up, down)| {
                let digits: String = dir
                    .split('_')
                    .next()
                    .unwrap_or_default()
                    .chars()
                    .filter(char::is_ascii_digit)
                    .collect();
                let version = if self.prefix == "ps_" {
                    digits
                } else {
                    format!("{digits}_{}", self.prefix)
                };
                Box::new(PrefixedMigration {
                    name: format!("{dir} ({})", self.prefix),
                    version,
                    up: apply_prefix(up, &self.prefix),
                    down: apply_prefix(down, &self.prefix),
                }) as Box<dyn Migration<Mysql>>
            })
            .collect())
    }
}

/// Applies every pending migration; returns the names applied.
pub fn run(conn: &mut MysqlConnection, prefix: &str) -> anyhow::Result<Vec<String>> {
    let source = PrefixedMigrations {
        prefix: prefix.to_owned(),
    };
    let applied = conn
        .run_pending_migrations(source)
        .map_err(|e| anyhow::anyhow!("migration failed: {e}"))?;
    Ok(applied.iter().map(ToString::to_string).collect())
}

/// Every table name the migrations mention, without prefix (for tests and checks).
pub fn table_names() -> Vec<String> {
    let mut names = Vec::new();
    for (_, up, _) in FILES {
        for part in up.split("CREATE TABLE IF NOT EXISTS `ps_").skip(1) {
            if let Some(end) = part.find('`') {
                names.push(part[..end].to_owned());
            }
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_is_rewritten_only_in_backticked_names() {
        assert_eq!(
            apply_prefix(
                "CREATE TABLE `ps_shop` (`id_shop` INT) -- ps_shop",
                "shop2_"
            ),
            "CREATE TABLE `shop2_shop` (`id_shop` INT) -- ps_shop"
        );
    }

    #[test]
    fn every_statement_names_its_tables_with_backticks() {
        for (_, up, down) in FILES {
            for sql in [up, down] {
                for word in sql.split_whitespace() {
                    assert!(
                        !word.starts_with("ps_"),
                        "unquoted table name {word:?} would escape the prefix rewrite"
                    );
                }
            }
        }
    }

    #[test]
    fn only_threadgate_tables_are_ever_altered_or_dropped() {
        for (_, up, down) in FILES {
            for sql in [up, down] {
                let upper = sql.to_ascii_uppercase();
                for verb in ["ALTER TABLE ", "DROP TABLE ", "RENAME TABLE ", "TRUNCATE "] {
                    for part in upper.split(verb).skip(1) {
                        let name = part.trim_start_matches("IF EXISTS ").trim_start();
                        assert!(
                            name.starts_with("`PS_THREADGATE_"),
                            "{verb}{} touches a PrestaShop table",
                            &name[..name.len().min(40)]
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn migrations_create_the_tables_the_service_reads() {
        let names = table_names();
        for t in [
            "customer_thread",
            "customer_message",
            "contact",
            "contact_lang",
            "configuration",
            "shop",
            "shop_url",
            "lang",
            "customer",
            "employee",
            "orders",
            "product_lang",
            "threadgate_key",
            "threadgate_key_permission",
            "threadgate_key_shop",
            "threadgate_state",
            "threadgate_data_generation",
        ] {
            assert!(names.iter().any(|n| n == t), "{t} missing");
        }
    }
}
