//! The Python grpcio test backend as a child process. Self-contained (std
//! only), so other crates' tests can include it with `#[path]` too.

#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The third-party backend: `tests/python/inventory_server.py` (Python grpcio,
/// grpcio-reflection v1alpha only), as a child process killed on drop.
pub struct PythonBackend {
    pub addr: SocketAddr,
    child: Child,
}

/// The test virtualenv's Python (made by `tests/python/setup.sh`), for tests
/// that run a Python tool (prometheus-client's parsers). Panics when setup has
/// not run, as [`PythonBackend::start`] does: such a test must not pass without
/// running.
pub fn venv_python() -> PathBuf {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
    assert!(
        python.exists(),
        "Python test virtualenv missing ({}); run tests/python/setup.sh, or leave these \
         tests out with `--skip python`",
        python.display()
    );
    python
}

impl PythonBackend {
    /// Starts the server on a free port. Panics when `tests/python/setup.sh` has
    /// not run: a test that needs this backend and did not get it has failed,
    /// it must not be reported as passed. (`cargo test -- --skip python` leaves
    /// these tests out visibly.)
    pub fn start() -> PythonBackend {
        Self::start_in(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
    }

    /// [`Self::start`] with the repository root (where `.venv` and
    /// `tests/python` are) given.
    pub fn start_in(root: &Path) -> PythonBackend {
        use std::io::BufRead;
        let python = root.join(".venv/bin/python");
        let stubs = root.join("tests/python/gen/inventory_pb2_grpc.py");
        assert!(
            python.exists() && stubs.exists(),
            "Python test backend not set up (.venv or generated stubs missing under {}); \
             run tests/python/setup.sh, or leave these tests out with `--skip python`",
            root.display()
        );
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
        PythonBackend { addr, child }
    }
}

impl Drop for PythonBackend {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
