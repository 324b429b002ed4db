//! Logging: `tracing` to stderr, filtered by `RUST_LOG` (default `info`), as text or as one
//! JSON object per line (`THREADGATE_LOG_FORMAT`); ANSI colours only when stderr is a terminal.
//! Keys never reach a log line: only key ids are logged (docs/architecture.md, "Observability").
//! The database is named by `db::schema::describe_url` (never the password).

use std::fmt;
use std::io::IsTerminal;

use tracing::field::{Field, Visit};
use tracing::Subscriber;
use tracing_subscriber::field::{MakeVisitor, VisitFmt, VisitOutput};
use tracing_subscriber::fmt::format::{DefaultVisitor, Writer};
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
        LogFormat::Text if ansi => Box::new(builder.with_ansi(true).finish()),
        LogFormat::Text => Box::new(builder.with_ansi(false).fmt_fields(PlainFields).finish()),
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

/// The text format's fields without colours: exactly what tracing-subscriber's `DefaultFields`
/// writes with ANSI off, but a plain field is written as `name=value` straight away. The default
/// visitor paints each name and `=` with a (plain, empty) `nu_ansi_term` style, which was a
/// third of the access line's cost (callgrind: ~6k instructions per request, 3 % of a GET by
/// id). The message, `r#` names and errors go through the default visitor itself.
struct PlainFields;

impl<'a> MakeVisitor<Writer<'a>> for PlainFields {
    type Visitor = PlainVisitor<'a>;

    fn make_visitor(&self, writer: Writer<'a>) -> PlainVisitor<'a> {
        PlainVisitor {
            writer,
            is_empty: true,
            result: Ok(()),
        }
    }
}

struct PlainVisitor<'a> {
    writer: Writer<'a>,
    is_empty: bool,
    result: fmt::Result,
}

impl PlainVisitor<'_> {
    /// Hands one field to the default visitor, which pads it as this one would.
    fn delegate(&mut self, record: impl FnOnce(&mut DefaultVisitor<'_>)) {
        let mut visitor = DefaultVisitor::new(self.writer.by_ref(), self.is_empty);
        record(&mut visitor);
        self.is_empty = false;
        self.result = visitor.finish();
    }
}

impl Visit for PlainVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            if self.result.is_ok() {
                self.delegate(|v| v.record_str(field, value));
            }
        } else {
            self.record_debug(field, &value);
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if self.result.is_ok() {
            self.delegate(|v| v.record_error(field, value));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.result.is_err() {
            return;
        }
        let name = field.name();
        if name == "message" || name.starts_with("r#") {
            return self.delegate(|v| v.record_debug(field, value));
        }
        if self.is_empty {
            self.is_empty = false;
        } else if let Err(e) = self.writer.write_char(' ') {
            self.result = Err(e);
            return;
        }
        self.result = write!(self.writer, "{name}={value:?}");
    }
}

impl VisitOutput<fmt::Result> for PlainVisitor<'_> {
    fn finish(self) -> fmt::Result {
        self.result
    }
}

impl VisitFmt for PlainVisitor<'_> {
    fn writer(&mut self) -> &mut dyn fmt::Write {
        &mut self.writer
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

    /// Every kind of field, through the plain fields and through tracing-subscriber's own.
    fn fields_both_ways() -> (String, String) {
        #[derive(Debug)]
        struct Failure;
        impl std::fmt::Display for Failure {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("it failed \u{1b}[31m")
            }
        }
        impl std::error::Error for Failure {}
        let run = |plain: bool| {
            let buf = Buf::default();
            let writer = buf.clone();
            let builder = tracing_subscriber::fmt()
                .with_env_filter(EnvFilter::new("info"))
                .with_writer(move || writer.clone())
                .with_ansi(false)
                .without_time();
            let sub: Box<dyn Subscriber + Send + Sync> = if plain {
                Box::new(builder.fmt_fields(PlainFields).finish())
            } else {
                Box::new(builder.finish())
            };
            tracing::subscriber::with_default(sub, || {
                let span = tracing::info_span!("request", request_id = %"r-1", n = 3u8);
                let _in = span.enter();
                let none: Option<u32> = None;
                let err = Failure;
                tracing::info!(
                    method = %"GET", path = ?"/a\"b", status = 200u16, ms = 1.25f64, n = -3i64,
                    ok = true, s = "text\u{1b}", key_id = Some(7u32), none, r#type = "t",
                    error = &err as &(dyn std::error::Error + 'static),
                    "request {} \u{1b}[1m", 5
                );
                tracing::warn!("only a message");
                tracing::warn!(a = 1u8, "message after a field");
                tracing::warn!(a = 1u8);
            });
            let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
            out
        };
        (run(true), run(false))
    }

    #[test]
    fn plain_fields_write_what_the_default_fields_write_without_colours() {
        let (plain, default) = fields_both_ways();
        assert_eq!(plain, default);
        assert_eq!(plain.lines().count(), 4, "{plain}");
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
