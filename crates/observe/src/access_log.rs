//! The access log (`access_log:`): one line per finished request or stream.
//!
//! The request path only builds an [`Entry`] and offers it to a bounded
//! channel ([`AccessLog::record`]); a writer thread formats and writes it. When
//! the channel is full the entry is dropped and counted
//! (`switchboard_access_log_dropped_total`): a slow disk never slows a request.
//! A file target is reopened after [`AccessLog::reopen`] (SIGHUP), so logrotate
//! can move it away.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::{Duration, SystemTime};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;
use serde_json::{Map, Value};
use switchboard_config::observability::{AccessLog as Config, LogFormat, LogTarget};

/// Lines buffered between the request path and the writer.
pub const CAPACITY: usize = 8192;

/// One finished request.
#[derive(Debug, Clone, Default)]
pub struct Entry {
    /// When the request finished; `None`: now, when written.
    pub time: Option<SystemTime>,
    /// The request's `x-request-id` (kept or generated).
    pub request_id: String,
    /// The client's address, when known.
    pub peer: Option<String>,
    /// The HTTP method.
    pub method: String,
    /// The request path, as received.
    pub path: String,
    /// The matched route's template; `None`: no route matched.
    pub route: Option<String>,
    /// The backend that served it.
    pub backend: Option<String>,
    /// The backend endpoint the call went to.
    pub endpoint: Option<String>,
    /// The gRPC method called, `/package.Service/Method`.
    pub grpc_method: Option<String>,
    /// The HTTP status answered.
    pub status: u16,
    /// The gRPC status code, when there was one.
    pub grpc_code: Option<i32>,
    /// From the request's arrival to the end of its response.
    pub duration: Duration,
    /// Request body bytes read.
    pub bytes_in: u64,
    /// Response body bytes written.
    pub bytes_out: u64,
    /// `json`, `sse`, `ws`, `grpc`, `grpc-web` or `connect`.
    pub protocol: &'static str,
    /// The client's `User-Agent`.
    pub user_agent: Option<String>,
    /// The trace the request belongs to, when traced.
    pub trace_id: Option<String>,
}

impl Entry {
    /// The JSON object written for this entry (keys as the README lists them;
    /// absent facts are `null`).
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        let opt = |v: &Option<String>| v.clone().map_or(Value::Null, Value::String);
        m.insert(
            "time".into(),
            Value::String(crate::time::rfc3339(
                self.time.unwrap_or_else(SystemTime::now),
            )),
        );
        m.insert("request_id".into(), Value::String(self.request_id.clone()));
        m.insert("peer".into(), opt(&self.peer));
        m.insert("method".into(), Value::String(self.method.clone()));
        m.insert("path".into(), Value::String(self.path.clone()));
        m.insert("route".into(), opt(&self.route));
        m.insert("backend".into(), opt(&self.backend));
        m.insert("endpoint".into(), opt(&self.endpoint));
        m.insert("grpc_method".into(), opt(&self.grpc_method));
        m.insert("status".into(), Value::from(self.status));
        m.insert(
            "grpc_code".into(),
            self.grpc_code.map_or(Value::Null, Value::from),
        );
        let ms = self.duration.as_secs_f64() * 1000.0;
        m.insert(
            "duration_ms".into(),
            Value::from((ms * 1000.0).round() / 1000.0),
        );
        m.insert("bytes_in".into(), Value::from(self.bytes_in));
        m.insert("bytes_out".into(), Value::from(self.bytes_out));
        m.insert("protocol".into(), Value::String(self.protocol.into()));
        m.insert("user_agent".into(), opt(&self.user_agent));
        m.insert("trace_id".into(), opt(&self.trace_id));
        Value::Object(m)
    }

    /// The line for `format`, without its newline.
    pub fn line(&self, format: LogFormat) -> String {
        let json = self.to_json();
        match format {
            LogFormat::Json => json.to_string(),
            LogFormat::Text => logfmt(&json),
        }
    }
}

/// The keys of a line, in the order the text format writes them.
pub const KEYS: [&str; 17] = [
    "time",
    "request_id",
    "peer",
    "method",
    "path",
    "route",
    "backend",
    "endpoint",
    "grpc_method",
    "status",
    "grpc_code",
    "duration_ms",
    "bytes_in",
    "bytes_out",
    "protocol",
    "user_agent",
    "trace_id",
];

/// `key=value ...` in [`KEYS`] order; strings quoted when they hold
/// spaces, quotes or `=`; absent values as `-`.
fn logfmt(json: &Value) -> String {
    let mut out = String::new();
    let Value::Object(m) = json else {
        return out;
    };
    for k in KEYS {
        let Some(v) = m.get(k) else { continue };
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(k);
        out.push('=');
        match v {
            Value::Null => out.push('-'),
            Value::String(s)
                if s.is_empty()
                    || s.contains([' ', '"', '=', '\\'])
                    || s.contains(char::is_control) =>
            {
                out.push_str(&Value::String(s.clone()).to_string())
            }
            Value::String(s) => out.push_str(s),
            other => out.push_str(&other.to_string()),
        }
    }
    out
}

/// The sending half, shared by every request.
#[derive(Debug, Clone)]
pub struct AccessLog {
    tx: SyncSender<Entry>,
    dropped: Counter,
    reopen: Arc<AtomicBool>,
}

impl AccessLog {
    /// Opens the target and starts the writer thread. A file that cannot be
    /// opened is an error at startup.
    pub fn start(config: &Config) -> io::Result<AccessLog> {
        let sink = Sink::open(&config.to)?;
        let (tx, rx) = sync_channel(CAPACITY);
        let reopen = Arc::new(AtomicBool::new(false));
        let format = config.format;
        let flag = reopen.clone();
        std::thread::Builder::new()
            .name("access-log".into())
            .spawn(move || write_loop(rx, sink, format, flag))?;
        Ok(AccessLog {
            tx,
            dropped: Counter::default(),
            reopen,
        })
    }

    /// Offers `entry` to the writer; drops (and counts) it when the buffer is full.
    pub fn record(&self, entry: Entry) {
        match self.tx.try_send(entry) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.dropped.inc();
            }
        }
    }

    /// Reopens a file target before the next line (after logrotate moved it).
    pub fn reopen(&self) {
        self.reopen.store(true, Ordering::Relaxed);
    }

    /// Lines dropped because the writer fell behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.get()
    }

    /// Registers `switchboard_access_log_dropped_total`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "switchboard_access_log_dropped",
            "Access log lines dropped because the writer fell behind",
            self.dropped.clone(),
        );
    }

    /// Calls [`AccessLog::reopen`] on every SIGHUP (Unix; needs a runtime).
    pub fn reopen_on_sighup(&self) -> io::Result<()> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let mut hup = signal(SignalKind::hangup())?;
            let log = self.clone();
            tokio::spawn(async move {
                while hup.recv().await.is_some() {
                    log.reopen();
                }
            });
        }
        Ok(())
    }
}

enum Sink {
    Stdout(io::Stdout),
    Stderr(io::Stderr),
    File(PathBuf, BufWriter<File>),
}

impl Sink {
    fn open(target: &LogTarget) -> io::Result<Sink> {
        Ok(match target {
            LogTarget::Stdout => Sink::Stdout(io::stdout()),
            LogTarget::Stderr => Sink::Stderr(io::stderr()),
            LogTarget::File(path) => Sink::File(path.clone(), BufWriter::new(append(path)?)),
        })
    }

    fn writer(&mut self) -> &mut dyn Write {
        match self {
            Sink::Stdout(s) => s as &mut dyn Write,
            Sink::Stderr(s) => s as &mut dyn Write,
            Sink::File(_, f) => f as &mut dyn Write,
        }
    }
}

fn append(path: &PathBuf) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// Writes entries as they come, flushing whenever the channel is empty; ends
/// when every sender is gone.
fn write_loop(rx: Receiver<Entry>, mut sink: Sink, format: LogFormat, reopen: Arc<AtomicBool>) {
    while let Ok(first) = rx.recv() {
        if reopen.swap(false, Ordering::Relaxed)
            && let Sink::File(path, f) = &mut sink
        {
            let _ = f.flush();
            match append(path) {
                Ok(file) => *f = BufWriter::new(file),
                Err(e) => {
                    tracing::error!(path = %path.display(), error = %e, "cannot reopen the access log")
                }
            }
        }
        let mut next = Some(first);
        while let Some(entry) = next {
            let mut line = entry.line(format);
            line.push('\n');
            if let Err(e) = sink.writer().write_all(line.as_bytes()) {
                tracing::warn!(error = %e, "access log write failed");
            }
            next = rx.try_recv().ok();
        }
        let _ = sink.writer().flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry {
        Entry {
            time: Some(std::time::UNIX_EPOCH),
            request_id: "r1".into(),
            peer: Some("127.0.0.1:5".into()),
            method: "GET".into(),
            path: "/v1/x".into(),
            route: Some("GET /v1/{name}".into()),
            status: 200,
            grpc_code: Some(0),
            duration: Duration::from_micros(1500),
            protocol: "json",
            user_agent: Some("curl/8 x".into()),
            ..Entry::default()
        }
    }

    #[test]
    fn json_and_text_lines() {
        let v: Value = serde_json::from_str(&entry().line(LogFormat::Json)).unwrap();
        assert_eq!(v["time"], "1970-01-01T00:00:00.000Z");
        assert_eq!(v["duration_ms"], 1.5);
        assert_eq!(v["backend"], Value::Null);
        assert_eq!(v["grpc_code"], 0);
        let t = entry().line(LogFormat::Text);
        assert!(
            t.starts_with("time=1970-01-01T00:00:00.000Z request_id=r1 "),
            "{t}"
        );
        assert!(t.contains(" backend=- "), "{t}");
        assert!(t.contains(" user_agent=\"curl/8 x\" "), "{t}");
    }

    #[test]
    fn full_buffer_drops_and_counts() {
        let (tx, _rx) = sync_channel(1);
        let log = AccessLog {
            tx,
            dropped: Counter::default(),
            reopen: Arc::default(),
        };
        log.record(entry());
        log.record(entry());
        assert_eq!(log.dropped(), 1);
    }

    #[test]
    fn file_is_reopened_after_rotation() {
        let dir = std::env::temp_dir().join(format!("sb-access-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("access.log");
        let log = AccessLog::start(&Config {
            format: LogFormat::Json,
            to: LogTarget::File(path.clone()),
        })
        .unwrap();
        log.record(entry());
        wait_for_lines(&path, 1);
        std::fs::rename(&path, dir.join("access.log.1")).unwrap();
        log.reopen();
        log.record(entry());
        wait_for_lines(&path, 1);
        assert_eq!(lines(&dir.join("access.log.1")), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn lines(path: &PathBuf) -> usize {
        std::fs::read_to_string(path).map_or(0, |s| s.lines().count())
    }

    fn wait_for_lines(path: &PathBuf, n: usize) {
        for _ in 0..500 {
            if lines(path) >= n {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("{} never had {n} lines", path.display());
    }
}
