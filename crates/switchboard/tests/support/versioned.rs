//! A test-local tonic backend whose API is a `.proto` written in the test and
//! compiled with protox, so a test can restart "the same" backend with the next
//! version of its proto (one more method, one more field), as a rolling deploy does.
//!
//! It serves `demo.Greeter` generically from the descriptors (no generated
//! code): every unary method answers a `Reply` saying which instance answered
//! (`served_by`), the greeting built from the request, and the numbers of the
//! request fields the instance did not know (`unknown_fields`), so a test can
//! tell a field its schema lacks from one that was never sent. Reflection
//! (v1 and v1alpha) serves the same descriptors, and the health service runs.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, BufMut, Bytes};
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, MethodDescriptor, Value};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::server::NamedService;
use tonic::{Request, Response, Status};

/// Version 1: `Hello(HelloRequest{name})`.
pub const V1: &str = r#"
syntax = "proto3";
package demo;
service Greeter {
  rpc Hello(HelloRequest) returns (Reply);
}
message HelloRequest { string name = 1; }
message Reply {
  string message = 1;
  string served_by = 2;
  repeated int32 unknown_fields = 3;
}
"#;

/// Version 2: one more method (`Goodbye`), one more request field (`title`)
/// and one more response field (`build`, which the backend fills in).
pub const V2: &str = r#"
syntax = "proto3";
package demo;
service Greeter {
  rpc Hello(HelloRequest) returns (Reply);
  rpc Goodbye(HelloRequest) returns (Reply);
}
message HelloRequest { string name = 1; string title = 2; }
message Reply {
  string message = 1;
  string served_by = 2;
  repeated int32 unknown_fields = 3;
  string build = 4;
}
"#;

/// A service that is never exposed, to check that filters hide it.
pub const INTERNAL: &str = r#"
syntax = "proto3";
package demo.internal;
service Admin { rpc Wipe(Nothing) returns (Nothing); }
message Nothing {}
"#;

/// `source` (and any more files) compiled into an encoded `FileDescriptorSet`.
pub fn compile(files: &[(&str, &str)]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    for (name, source) in files {
        std::fs::write(dir.path().join(name), source).unwrap();
    }
    let names: Vec<&str> = files.iter().map(|(n, _)| *n).collect();
    let set = protox::compile(names, [dir.path()]).expect("test proto compiles");
    set.encode_to_vec()
}

/// A running versioned backend; stops when dropped.
pub struct Versioned {
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
}

impl Versioned {
    /// Serves `demo.Greeter` of `proto` (plus `extra` files) on a new port,
    /// answering with `served_by: tag`.
    pub async fn start(tag: &str, proto: &str) -> Versioned {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::serve(listener, tag, &[("greeter.proto", proto)]).await
    }

    /// The same on `addr` (a restart on the port the gateway knows), retrying
    /// the bind while the previous instance's socket goes away.
    pub async fn start_on(addr: SocketAddr, tag: &str, proto: &str) -> Versioned {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let listener = loop {
            match TcpListener::bind(addr).await {
                Ok(l) => break l,
                Err(e) if std::time::Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                Err(e) => panic!("cannot rebind {addr}: {e}"),
            }
        };
        Self::serve(listener, tag, &[("greeter.proto", proto)]).await
    }

    /// Serves `files` (the first holds `demo.Greeter`) on `listener`.
    pub async fn serve(listener: TcpListener, tag: &str, files: &[(&str, &str)]) -> Versioned {
        let addr = listener.local_addr().unwrap();
        let set = compile(files);
        let pool = DescriptorPool::decode(set.as_slice()).unwrap();
        let v1 = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(&set)
            .build_v1()
            .unwrap();
        let v1alpha = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(&set)
            .build_v1alpha()
            .unwrap();
        let (_reporter, health) = tonic_health::server::health_reporter();
        let (stop, mut rx) = watch::channel(false);
        let greeter = Greeter {
            pool,
            tag: tag.into(),
        };
        tokio::spawn(async move {
            let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
            let _ = tonic::transport::Server::builder()
                .add_service(v1)
                .add_service(v1alpha)
                .add_service(health)
                .add_service(greeter)
                .serve_with_incoming_shutdown(incoming, async move {
                    let _ = rx.wait_for(|s| *s).await;
                })
                .await;
        });
        Versioned { addr, stop }
    }

    /// Stops serving and closes the port.
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }
}

impl Drop for Versioned {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `demo.Greeter`, answered from the descriptors.
#[derive(Clone)]
struct Greeter {
    pool: DescriptorPool,
    tag: std::sync::Arc<str>,
}

impl NamedService for Greeter {
    const NAME: &'static str = "demo.Greeter";
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl tower::Service<http::Request<tonic::body::Body>> for Greeter {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<tonic::body::Body>) -> Self::Future {
        let name = req.uri().path().rsplit('/').next().unwrap_or("").to_owned();
        let method = self
            .pool
            .get_service_by_name("demo.Greeter")
            .and_then(|s| s.methods().find(|m| m.name() == name));
        let tag = self.tag.clone();
        Box::pin(async move {
            let Some(method) = method else {
                return Ok(Status::unimplemented(format!("no method {name}")).into_http());
            };
            let mut grpc = tonic::server::Grpc::new(Raw);
            Ok(grpc.unary(Unary { method, tag }, req).await)
        })
    }
}

/// One unary method of [`Greeter`].
struct Unary {
    method: MethodDescriptor,
    tag: std::sync::Arc<str>,
}

impl tonic::server::UnaryService<Bytes> for Unary {
    type Response = Bytes;
    type Future = std::future::Ready<Result<Response<Bytes>, Status>>;

    fn call(&mut self, request: Request<Bytes>) -> Self::Future {
        let input = DynamicMessage::decode(self.method.input(), request.into_inner());
        let result = input
            .map_err(|e| Status::invalid_argument(e.to_string()))
            .map(|input| {
                let text = |field: &str| {
                    input
                        .get_field_by_name(field)
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default()
                };
                let mut greeting = format!("{} {}", self.method.name(), text("name"));
                let title = text("title");
                if !title.is_empty() {
                    greeting = format!("{} {title} {}", self.method.name(), text("name"));
                }
                let unknown: Vec<Value> = input
                    .unknown_fields()
                    .map(|f| Value::I32(f.number() as i32))
                    .collect();
                let mut reply = DynamicMessage::new(self.method.output());
                reply.set_field_by_name("message", Value::String(greeting));
                reply.set_field_by_name("served_by", Value::String(self.tag.to_string()));
                reply.set_field_by_name("unknown_fields", Value::List(unknown));
                if self.method.output().get_field_by_name("build").is_some() {
                    reply.set_field_by_name("build", Value::String("v2".into()));
                }
                Response::new(Bytes::from(reply.encode_to_vec()))
            });
        std::future::ready(result)
    }
}

/// Encode = Decode = `Bytes`.
#[derive(Clone, Copy, Default)]
struct Raw;

impl Codec for Raw {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = Raw;
    type Decoder = Raw;
    fn encoder(&mut self) -> Raw {
        Raw
    }
    fn decoder(&mut self) -> Raw {
        Raw
    }
}

impl Encoder for Raw {
    type Item = Bytes;
    type Error = Status;
    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for Raw {
    type Item = Bytes;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}
