//! Support for the balancing tests: killable, named copies of the greeter
//! backend ([`Replica`]), a tiny in-process DNS server ([`DnsServer`]) and
//! signalling the gateway process.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitStatus;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA};
use hickory_proto::rr::{RData, Record, RecordType};
use switchboard_examples::{BackendOptions, Instance, Latency};
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use super::Gateway;

/// One copy of the greeter backend (Greeter + Echo) on its own runtime thread,
/// stamping `x-served-by: <name>` on its responses. [`Replica::kill`] drops that
/// runtime: listener and connections close at once, like a crashed process, and
/// calls in flight on it are cut.
pub struct Replica {
    pub name: String,
    pub addr: SocketAddr,
    /// Added latency of every call; change it while serving.
    pub latency: Latency,
    health: HealthReporter,
    kill: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Replica {
    /// Starts on 127.0.0.1 and a free port.
    pub fn start(name: &str) -> Replica {
        Self::start_on(name, "127.0.0.1:0".parse().expect("addr"))
    }

    /// Starts on `addr` (e.g. `127.0.0.2:PORT`: one port on several loopback IPs,
    /// as DNS-resolved endpoints need).
    pub fn start_on(name: &str, addr: SocketAddr) -> Replica {
        let listener = std::net::TcpListener::bind(addr).expect("bind replica");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("local addr");
        let latency = Latency::default();
        let health = HealthReporter::new();
        let instance = Instance {
            name: Some(name.to_string()),
            latency: latency.clone(),
            health: Some(health.clone()),
        };
        let (kill, killed) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("replica runtime");
            rt.spawn(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                let never = std::future::pending::<()>();
                let _ = switchboard_examples::serve_greeter_instance(
                    listener,
                    BackendOptions::default(),
                    instance,
                    never,
                )
                .await;
            });
            // Serve until killed (or the handle is dropped), then drop every task.
            rt.block_on(async {
                let _ = tokio::task::spawn_blocking(move || killed.recv()).await;
            });
            rt.shutdown_background();
        });
        Replica {
            name: name.to_string(),
            addr,
            latency,
            health,
            kill: Some(kill),
            thread: Some(thread),
        }
    }

    /// Stops abruptly: no graceful GOAWAY, in-flight calls are reset.
    pub fn kill(&mut self) {
        if let Some(kill) = self.kill.take() {
            let _ = kill.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// Sets the server-wide health status (`""` service) to SERVING or NOT_SERVING.
    pub async fn set_serving(&self, serving: bool) {
        let status = if serving {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        self.health.set_service_status("", status).await;
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill();
    }
}

/// An authoritative-only DNS server on a loopback UDP port answering A/AAAA
/// queries from a table the test changes at will (TTL 0, so nothing caches).
pub struct DnsServer {
    pub addr: SocketAddr,
    records: Arc<Mutex<HashMap<String, Vec<IpAddr>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl DnsServer {
    pub async fn start() -> DnsServer {
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0")
            .await
            .expect("bind dns");
        let addr = socket.local_addr().expect("dns addr");
        let records: Arc<Mutex<HashMap<String, Vec<IpAddr>>>> = Arc::default();
        let table = records.clone();
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            loop {
                let Ok((n, peer)) = socket.recv_from(&mut buf).await else {
                    return;
                };
                let Ok(query) = Message::from_vec(&buf[..n]) else {
                    continue;
                };
                let reply = answer(&query, &table.lock().unwrap());
                if let Ok(bytes) = reply.to_vec() {
                    let _ = socket.send_to(&bytes, peer).await;
                }
            }
        });
        DnsServer {
            addr,
            records,
            task,
        }
    }

    /// Makes `name` (without trailing dot) resolve to `ips`.
    pub fn set(&self, name: &str, ips: &[IpAddr]) {
        self.records.lock().unwrap().insert(
            name.trim_end_matches('.').to_ascii_lowercase(),
            ips.to_vec(),
        );
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn answer(query: &Message, table: &HashMap<String, Vec<IpAddr>>) -> Message {
    let mut reply = Message::new(
        query.metadata.id,
        MessageType::Response,
        query.metadata.op_code,
    );
    reply.metadata.authoritative = true;
    reply.metadata.recursion_desired = query.metadata.recursion_desired;
    reply.metadata.recursion_available = true;
    let Some(q) = query.queries.first() else {
        reply.metadata.response_code = ResponseCode::FormErr;
        return reply;
    };
    reply.add_query(q.clone());
    let key = q
        .name()
        .to_ascii()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    match table.get(&key) {
        None => reply.metadata.response_code = ResponseCode::NXDomain,
        Some(ips) => {
            for ip in ips {
                let rdata = match (ip, q.query_type()) {
                    (IpAddr::V4(v4), RecordType::A) => RData::A(A(*v4)),
                    (IpAddr::V6(v6), RecordType::AAAA) => RData::AAAA(AAAA(*v6)),
                    _ => continue,
                };
                reply.add_answer(Record::from_rdata(q.name().clone(), 0, rdata));
            }
        }
    }
    reply
}

impl Gateway {
    /// Sends SIGTERM to the gateway process.
    pub fn terminate(&self) {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
    }

    /// Waits up to `timeout` for the process to exit.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }
}
