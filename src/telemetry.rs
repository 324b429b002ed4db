//! Logging: `tracing` to stderr, filtered by `RUST_LOG` (default `info`), as text or as one
//! JSON object per line (`THREADGATE_LOG_FORMAT`); ANSI colours only when stderr is a terminal.
//! Keys never reach a log line: only key ids are logged (docs/architecture.md, "Observability").
//! The database is named by `db::schema::describe_url` (never the password).

use std::io::IsTerminal;

use tracing::Subscriber;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// One line of text per event: level, target, message, `key=value` fields.
    #[default]
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, the event's fields (the
    /// message as `message`) and the enclosing request span (`span`: its `request_id`).
    Json,
}

/// The subscriber `init` installs, writing to `writer` (tests hand in a buffer).
pub fn subscriber<W>(
    format: LogFormat,
    filter: EnvFilter,
    writer: W,
    ansi: bool,
) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match format {
        LogFormat::Text => Box::new(builder.with_ansi(ansi).finish()),
        LogFormat::Json => Box::new(
            builder
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_span_list(false)
                .finish(),
        ),
    }
}

/// Installs the process's subscriber (stderr). Colours only for a terminal, so log files and
/// journald never get escape codes.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::stderr().is_terminal();
    let _ = subscriber(format, filter, std::io::stderr, ansi).try_init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn capture(format: LogFormat, ansi: bool) -> String {
        let buf = Buf::default();
        let writer = buf.clone();
        let sub = subscriber(format, EnvFilter::new("info"), move || writer.clone(), ansi);
        tracing::subscriber::with_default(sub, || {
            let span = tracing::info_span!("request", request_id = "r-1");
            let _in = span.enter();
            tracing::info!(target: "threadgate::access", method = "GET", status = 200u16, path = ?"/api/x?a=\"b\"", "request");
            tracing::warn!(client = %"127.0.0.1", "second\nline");
            tracing::debug!("filtered out");
        });
        let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        out
    }

    #[test]
    fn the_json_format_writes_one_object_per_line() {
        let out = capture(LogFormat::Json, false);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");
        let first: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(first["level"], "INFO");
        assert_eq!(first["target"], "threadgate::access");
        assert_eq!(first["message"], "request");
        assert_eq!(first["method"], "GET");
        assert_eq!(first["status"], 200);
        assert_eq!(first["path"], "\"/api/x?a=\\\"b\\\"\"");
        assert_eq!(first["span"]["request_id"], "r-1");
        let second: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(second["level"], "WARN");
        assert_eq!(second["message"], "second\nline");
        assert_eq!(second["client"], "127.0.0.1");
    }

    #[test]
    fn the_text_format_has_no_colour_codes_unless_asked() {
        let plain = capture(LogFormat::Text, false);
        assert!(!plain.contains('\u{1b}'), "{plain}");
        assert!(plain.contains(" INFO request{request_id=\"r-1\"}: threadgate::access: request method=\"GET\" status=200"), "{plain}");
        let coloured = capture(LogFormat::Text, true);
        assert!(coloured.contains('\u{1b}'), "{coloured}");
    }
}
