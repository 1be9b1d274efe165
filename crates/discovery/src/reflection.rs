//! The gRPC server reflection client.
//!
//! One bidi `ServerReflectionInfo` stream per discovery: `ListServices`, then
//! `file_containing_symbol` for every service (pipelined), then
//! `file_by_filename` for every dependency not yet seen, transitively, because a
//! server may answer with only the defining file (tonic does). The files are
//! kept as the raw bytes the server sent so extension options survive.
//!
//! `grpc.reflection.v1` is tried first and `v1alpha` (all Python grpcio offers)
//! on `Unimplemented`. The two protocols are wire-identical: same messages, same
//! field numbers, only the package in the method path differs. So the exchange is
//! written once, with tonic-reflection's v1 message types, and the protocol is
//! just the path it is sent to.

use std::collections::{BTreeMap, HashSet};
use std::error::Error as _;
use std::time::Duration;

use prost::Message;
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Endpoint;

use crate::Connection;
use tonic::{Code, Status};
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
use tonic_reflection::pb::v1::{ServerReflectionRequest, ServerReflectionResponse};

use crate::{DiscoveryError, Schema, schema};
use switchboard_config::SchemaSource;

/// A reflection protocol version: its method path and its `Schema::source` label.
#[derive(Debug, Clone, Copy)]
enum Protocol {
    V1,
    V1Alpha,
}

impl Protocol {
    fn path(self) -> &'static str {
        match self {
            Protocol::V1 => "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            Protocol::V1Alpha => "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        }
    }

    fn source(self) -> SchemaSource {
        match self {
            Protocol::V1 => SchemaSource::ReflectionV1,
            Protocol::V1Alpha => SchemaSource::ReflectionV1Alpha,
        }
    }
}

/// Why one protocol attempt failed: `Unimplemented` means "try the other one".
enum Attempt {
    Unimplemented(String),
    Failed(DiscoveryError),
}

/// Tries each endpoint in order until one yields a schema; `timeout` bounds the
/// whole attempt (all endpoints together). When every endpoint fails, the last
/// endpoint's error is returned (earlier ones are logged).
pub(crate) async fn discover(
    endpoints: &[String],
    timeout: Duration,
    tls: Option<&switchboard_config::edge::BackendTls>,
    mut connections: std::collections::HashMap<String, Connection>,
) -> Result<Schema, DiscoveryError> {
    let mut current = endpoints.first().cloned().unwrap_or_default();
    let attempt = async {
        let mut last = None;
        for endpoint in endpoints {
            current.clone_from(endpoint);
            let found = discover_endpoint(endpoint, timeout, tls, connections.remove(endpoint))
                .await
                .and_then(Fetched::build);
            match found {
                Ok(schema) => return Ok(schema),
                Err(e) => {
                    tracing::warn!(endpoint = %endpoint, error = %e, "reflection failed");
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or_else(|| DiscoveryError::Connect {
            endpoint: String::new(),
            message: "no endpoints configured".into(),
        }))
    };
    let result = tokio::time::timeout(timeout, attempt).await;
    result.unwrap_or_else(|_| {
        Err(DiscoveryError::Timeout {
            endpoint: current,
            timeout,
        })
    })
}

/// What one endpoint's reflection returned, still encoded: enough for its
/// digest; decoding it into a pool ([`Fetched::build`]) is the costly part.
#[derive(Debug, Clone)]
pub(crate) struct Fetched {
    pub(crate) files: Vec<Vec<u8>>,
    pub(crate) services: Vec<String>,
    pub(crate) source: SchemaSource,
}

impl Fetched {
    /// The digest [`Schema::digest`] would have.
    pub(crate) fn digest(&self) -> u64 {
        schema::digest(&self.files)
    }

    pub(crate) fn build(self) -> Result<Schema, DiscoveryError> {
        schema::build(self.files, Some(self.services), self.source)
    }
}

/// Runs reflection on one `host:port` (or a full `http://` URI): over `existing`
/// when the caller has a connection to it, else over a new one (TLS when the
/// backend has `tls`).
pub(crate) async fn discover_endpoint(
    endpoint: &str,
    timeout: Duration,
    tls: Option<&switchboard_config::edge::BackendTls>,
    existing: Option<Connection>,
) -> Result<Fetched, DiscoveryError> {
    let connect_error = |message: String| DiscoveryError::Connect {
        endpoint: endpoint.to_owned(),
        message,
    };
    let channel = match existing {
        Some(connection) => connection,
        None => {
            let uri = if endpoint.contains("://") {
                endpoint.to_owned()
            } else {
                format!("http://{endpoint}")
            };
            let channel = match tls {
                // Secure edge: reflection over TLS (see `tls`).
                Some(tls) => crate::tls::channel(endpoint, timeout, tls)
                    .await
                    .map_err(connect_error)?,
                None => Endpoint::from_shared(uri)
                    .map_err(|e| connect_error(format!("invalid endpoint: {e}")))?
                    .connect_timeout(timeout)
                    .connect()
                    .await
                    .map_err(|e| connect_error(error_chain(&e)))?,
            };
            crate::connection(channel)
        }
    };

    exchange(channel, endpoint).await
}

/// Reflection over `channel`: v1, then v1alpha.
async fn exchange(channel: Connection, endpoint: &str) -> Result<Fetched, DiscoveryError> {
    let v1_message = match fetch(channel.clone(), endpoint, Protocol::V1).await {
        Ok(schema) => return Ok(schema),
        Err(Attempt::Failed(e)) => return Err(e),
        Err(Attempt::Unimplemented(message)) => message,
    };
    tracing::debug!(
        endpoint,
        "no grpc.reflection.v1 ({v1_message}); trying v1alpha"
    );
    match fetch(channel, endpoint, Protocol::V1Alpha).await {
        Ok(schema) => Ok(schema),
        Err(Attempt::Failed(e)) => Err(e),
        Err(Attempt::Unimplemented(message)) => Err(DiscoveryError::NoReflection {
            endpoint: endpoint.to_owned(),
            message: format!(
                "the server answered {message}; enable reflection on it, or point the \
                 backend's `descriptors` at a descriptor set or .proto files"
            ),
        }),
    }
}

/// Runs the whole exchange over one stream with `protocol`.
async fn fetch(
    channel: Connection,
    endpoint: &str,
    protocol: Protocol,
) -> Result<Fetched, Attempt> {
    let failed = |message: String| {
        Attempt::Failed(DiscoveryError::Reflection {
            endpoint: endpoint.to_owned(),
            message,
        })
    };
    let (tx, rx) = mpsc::unbounded_channel();
    let mut exchange = Exchange::new(tx);
    exchange.send(MessageRequest::ListServices(String::new()));

    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.map_err(|e| {
        Attempt::Failed(DiscoveryError::Connect {
            endpoint: endpoint.to_owned(),
            message: error_chain(&e),
        })
    })?;
    let codec =
        tonic_prost::ProstCodec::<ServerReflectionRequest, ServerReflectionResponse>::default();
    let response = grpc
        .streaming(
            tonic::Request::new(UnboundedReceiverStream::new(rx)),
            PathAndQuery::from_static(protocol.path()),
            codec,
        )
        .await;
    let mut stream = match response {
        Ok(response) => response.into_inner(),
        Err(status) if status.code() == Code::Unimplemented => {
            return Err(Attempt::Unimplemented(status_text(&status)));
        }
        Err(status) => return Err(failed(status_text(&status))),
    };

    let mut answered = false;
    while exchange.pending > 0 {
        match stream.message().await {
            Ok(Some(response)) => {
                answered = true;
                exchange.receive(response).map_err(failed)?;
            }
            Ok(None) => {
                return Err(failed(
                    "the server closed the reflection stream before answering every request".into(),
                ));
            }
            // Some servers only report a missing service once the stream is read.
            Err(status) if !answered && status.code() == Code::Unimplemented => {
                return Err(Attempt::Unimplemented(status_text(&status)));
            }
            Err(status) => return Err(failed(status_text(&status))),
        }
    }
    // Dropping the sender (with `exchange`) ends our half of the stream.
    let Exchange {
        files, services, ..
    } = exchange;
    Ok(Fetched {
        files: files.into_values().collect(),
        services,
        source: protocol.source(),
    })
}

/// The client side of one reflection stream: what was asked, what came back.
struct Exchange {
    tx: mpsc::UnboundedSender<ServerReflectionRequest>,
    /// Requests sent and not yet answered.
    pending: usize,
    /// File names already requested or received, so each is fetched once.
    seen: HashSet<String>,
    /// Raw `FileDescriptorProto` bytes by file name.
    files: BTreeMap<String, Vec<u8>>,
    services: Vec<String>,
}

impl Exchange {
    fn new(tx: mpsc::UnboundedSender<ServerReflectionRequest>) -> Self {
        Exchange {
            tx,
            pending: 0,
            seen: HashSet::new(),
            files: BTreeMap::new(),
            services: Vec::new(),
        }
    }

    fn send(&mut self, request: MessageRequest) {
        // The receiver lives as long as the call; if the call is already gone,
        // the read loop reports why.
        let _ = self.tx.send(ServerReflectionRequest {
            host: String::new(),
            message_request: Some(request),
        });
        self.pending += 1;
    }

    /// Handles one response, queueing whatever it makes necessary.
    fn receive(&mut self, response: ServerReflectionResponse) -> Result<(), String> {
        self.pending = self.pending.saturating_sub(1);
        match response.message_response {
            Some(MessageResponse::ListServicesResponse(list)) => {
                for service in list.service {
                    self.send(MessageRequest::FileContainingSymbol(service.name.clone()));
                    self.services.push(service.name);
                }
                Ok(())
            }
            Some(MessageResponse::FileDescriptorResponse(found)) => {
                for raw in found.file_descriptor_proto {
                    self.add_file(raw)?;
                }
                Ok(())
            }
            Some(MessageResponse::ErrorResponse(error)) => {
                let request = response.original_request.and_then(|r| r.message_request);
                match request {
                    // A listed service the server cannot describe: leave it out
                    // rather than fail the whole backend.
                    Some(MessageRequest::FileContainingSymbol(symbol)) => {
                        tracing::warn!(
                            service = %symbol,
                            "reflection lists a service it cannot describe ({}); ignoring it",
                            error.error_message
                        );
                        self.services.retain(|s| *s != symbol);
                        Ok(())
                    }
                    Some(MessageRequest::FileByFilename(file)) => Err(format!(
                        "the server cannot provide {file}: {} (code {})",
                        error.error_message, error.error_code
                    )),
                    _ => Err(format!(
                        "the server answered with an error: {} (code {})",
                        error.error_message, error.error_code
                    )),
                }
            }
            Some(other) => Err(format!("unexpected reflection response: {other:?}")),
            None => Err("empty reflection response".into()),
        }
    }

    /// Records one file and requests those of its dependencies not yet seen.
    fn add_file(&mut self, raw: Vec<u8>) -> Result<(), String> {
        let file = prost_types::FileDescriptorProto::decode(raw.as_slice())
            .map_err(|e| format!("the server sent an undecodable file descriptor: {e}"))?;
        let name = file.name().to_owned();
        self.seen.insert(name.clone());
        if self.files.contains_key(&name) {
            return Ok(());
        }
        self.files.insert(name, raw);
        for dependency in file.dependency {
            if self.seen.insert(dependency.clone()) {
                self.send(MessageRequest::FileByFilename(dependency));
            }
        }
        Ok(())
    }
}

/// An error and its sources, e.g. "transport error: tcp connect error: Connection
/// refused (os error 111)": the top-level message alone rarely says what happened.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        let message = inner.to_string();
        if !text.contains(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        source = inner.source();
    }
    text
}

/// A status as an operator wants to read it: code, message, and the transport
/// cause when there is one.
fn status_text(status: &Status) -> String {
    let mut text = format!("{:?}", status.code());
    if !status.message().is_empty() {
        text.push_str(": ");
        text.push_str(status.message());
    }
    if let Some(source) = status.source() {
        let cause = error_chain(source);
        if !text.contains(&cause) {
            text.push_str(" (");
            text.push_str(&cause);
            text.push(')');
        }
    }
    text
}
