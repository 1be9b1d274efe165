//! The Python grpcio test backend as a child process. Self-contained (std
//! only), so other crates' tests can include it with `#[path]` too.

#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// The third-party backend: `tests/python/inventory_server.py` (Python grpcio,
/// grpcio-reflection v1alpha only), as a child process killed on drop.
pub struct PythonBackend {
    pub addr: SocketAddr,
    child: Child,
}

impl PythonBackend {
    /// Starts the server on a free port. `None` when `tests/python/setup.sh` has not
    /// run, unless `SWITCHBOARD_REQUIRE_PYTHON=1` (CI), where that is a failure.
    pub fn start() -> Option<PythonBackend> {
        use std::io::BufRead;
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let python = root.join(".venv/bin/python");
        let stubs = root.join("tests/python/gen/inventory_pb2_grpc.py");
        if !python.exists() || !stubs.exists() {
            let message = "Python test backend not set up (.venv or generated stubs missing); \
                           run tests/python/setup.sh";
            if std::env::var("SWITCHBOARD_REQUIRE_PYTHON").as_deref() == Ok("1") {
                panic!("{message} (SWITCHBOARD_REQUIRE_PYTHON=1)");
            }
            eprintln!("skipping: {message}");
            return None;
        }
        let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        let proto = root.join("tests/python/inventory.proto");
        assert!(
            modified(&proto) <= modified(&stubs),
            "tests/python/inventory.proto is newer than its generated stubs; run tests/python/setup.sh"
        );
        let mut child = Command::new(python)
            .arg(root.join("tests/python/inventory_server.py"))
            .args(["--port", "0"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn the Python server");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the Python server's first line");
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line from the Python server: {line:?}"))
            .parse()
            .expect("an address");
        Some(PythonBackend { addr, child })
    }
}

impl Drop for PythonBackend {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
