//! `switchboard.testing.v1.Echo`: a test-support service that makes gateway
//! behaviour observable from the outside. It echoes the request (every field
//! kind), reports the request metadata it received, sets a response header and a
//! trailer, sleeps on request (abandoned when the call is cancelled or its
//! deadline passes, since tonic then drops the handler future), and fails with a
//! chosen status carrying a `google.rpc.Status` with an `ErrorDetail`. It also
//! serves raw `google.api.HttpBody` downloads (unary and streamed) and uploads.

use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use http_body::Frame;
use prost::Message;
use tokio_stream::wrappers::ReceiverStream;
use tonic::metadata::{KeyAndValueRef, MetadataMap, MetadataValue};
use tonic::server::NamedService;
use tonic::{Code, Request, Response, Status, Streaming};

use crate::pb::google::api::HttpBody;
use crate::pb::switchboard::testing::v1::echo_server::Echo;
use crate::pb::switchboard::testing::v1::{
    CollectResponse, DownloadRequest, EchoRequest, EchoResponse, EchoStreamRequest, ErrorDetail,
    UploadReply,
};

/// Upper bound on `EchoStream`'s `count`.
const MAX_STREAM_COUNT: i32 = 10_000;

/// Tags of streaming calls that ended because the client cancelled them (the
/// first request's `string_value`), so end-to-end tests can assert that a
/// client disconnecting from the gateway really reached the backend.
static CANCELLED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Whether a streaming call tagged `tag` was cancelled by its client.
pub fn was_cancelled(tag: &str) -> bool {
    CANCELLED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .any(|t| t == tag)
}

fn record_cancelled(tag: String) {
    CANCELLED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(tag);
}

/// Records its call as cancelled when dropped before [`done`](Self::done): tonic
/// drops a handler future (or a response stream) when the client resets the call.
#[derive(Default)]
struct CancelWatch {
    tag: Option<String>,
    done: bool,
}

impl CancelWatch {
    fn tag(&mut self, tag: &str) {
        if self.tag.is_none() {
            self.tag = Some(tag.to_owned());
        }
    }

    fn done(&mut self) {
        self.done = true;
    }
}

impl Drop for CancelWatch {
    fn drop(&mut self) {
        if !self.done {
            record_cancelled(self.tag.take().unwrap_or_default());
        }
    }
}

/// A response stream that records its call as cancelled when it is dropped
/// before it ended (and ends it at the first failure it yields).
struct Watched<S> {
    inner: S,
    watch: CancelWatch,
}

impl<S> Stream for Watched<S>
where
    S: Stream<Item = Result<EchoResponse, Status>> + Unpin,
{
    type Item = Result<EchoResponse, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let item = ready!(self.inner.poll_next_unpin(cx));
        match &item {
            Some(Ok(resp)) => {
                let tag = resp.request.as_ref().map(|r| r.string_value.as_str());
                self.watch.tag(tag.unwrap_or_default());
            }
            // A reset request stream shows up as CANCELLED: that is a cancellation.
            Some(Err(status)) if status.code() == Code::Cancelled => {}
            Some(Err(_)) | None => self.watch.done(),
        }
        Poll::Ready(item)
    }
}

/// The Echo implementation (stateless).
#[derive(Debug, Clone, Copy, Default)]
pub struct EchoService;

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

/// `google.rpc.Status`, hand-written: the backends encode it into
/// `grpc-status-details-bin`, and the tests decode it back.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RpcStatus {
    #[prost(int32, tag = "1")]
    /// The gRPC code the backend answered with.
    pub code: i32,
    #[prost(string, tag = "2")]
    /// The status message.
    pub message: String,
    #[prost(message, repeated, tag = "3")]
    /// The `google.rpc.Status` details, still encoded as `Any`.
    pub details: Vec<prost_types::Any>,
}

/// The request metadata as a map: lower-case keys, ASCII values only (binary
/// `-bin` entries are skipped; repeated keys are joined with ", ").
fn ascii_metadata(metadata: &MetadataMap) -> std::collections::HashMap<String, String> {
    let mut out = std::collections::HashMap::<String, String>::new();
    for entry in metadata.iter() {
        if let KeyAndValueRef::Ascii(key, value) = entry {
            let Ok(value) = value.to_str() else { continue };
            out.entry(key.as_str().to_ascii_lowercase())
                .and_modify(|v| {
                    v.push_str(", ");
                    v.push_str(value);
                })
                .or_insert_with(|| value.to_owned());
        }
    }
    out
}

/// The status Echo returns when asked to fail: code and message as requested,
/// `x-echo-trailer: 1` metadata, and a `google.rpc.Status` whose details hold one
/// `ErrorDetail` packed in an `Any`.
fn failure(code: i32, message: &str) -> Status {
    let message = if message.is_empty() {
        format!("failing as requested with code {code}")
    } else {
        message.to_owned()
    };
    let detail = ErrorDetail {
        reason: "REQUESTED_FAILURE".into(),
        field: "fail_code".into(),
    };
    let details = RpcStatus {
        code,
        message: message.clone(),
        details: vec![prost_types::Any {
            type_url: "type.googleapis.com/switchboard.testing.v1.ErrorDetail".into(),
            value: detail.encode_to_vec(),
        }],
    };
    let mut metadata = MetadataMap::new();
    metadata.insert("x-echo-trailer", MetadataValue::from_static("1"));
    Status::with_details_and_metadata(
        Code::from(code),
        message,
        Bytes::from(details.encode_to_vec()),
        metadata,
    )
}

async fn sleep_ms(ms: u64) {
    if ms > 0 {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

#[tonic::async_trait]
impl Echo for EchoService {
    async fn echo(&self, request: Request<EchoRequest>) -> Result<Response<EchoResponse>, Status> {
        let metadata = ascii_metadata(request.metadata());
        let req = request.into_inner();
        // If the client goes away or the deadline passes, tonic drops this future,
        // which abandons the sleep.
        sleep_ms(req.delay_ms.into()).await;
        if req.fail_code != 0 {
            return Err(failure(req.fail_code, &req.fail_message));
        }
        let mut response = Response::new(EchoResponse {
            request: Some(req),
            metadata,
        });
        response
            .metadata_mut()
            .insert("x-echo", MetadataValue::from_static("1"));
        Ok(response)
    }

    type EchoStreamStream = BoxStream<EchoResponse>;

    async fn echo_stream(
        &self,
        request: Request<EchoStreamRequest>,
    ) -> Result<Response<Self::EchoStreamStream>, Status> {
        let metadata = ascii_metadata(request.metadata());
        let req = request.into_inner();
        if !(0..=MAX_STREAM_COUNT).contains(&req.count) {
            return Err(Status::invalid_argument(format!(
                "count must be between 0 and {MAX_STREAM_COUNT}, got {}",
                req.count
            )));
        }
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::spawn(async move {
            let template = EchoResponse {
                request: req.request,
                metadata,
            };
            for i in 0..req.count {
                if i > 0 {
                    sleep_ms(req.interval_ms.max(0) as u64).await;
                }
                if tx.send(Ok(template.clone())).await.is_err() {
                    // The client cancelled (tonic dropped the response stream).
                    let tag = template.request.as_ref().map(|r| r.string_value.clone());
                    record_cancelled(tag.unwrap_or_default());
                    return;
                }
            }
            if req.fail_code != 0 {
                let _ = tx
                    .send(Err(failure(req.fail_code, &req.fail_message)))
                    .await;
            }
        });
        let mut response = Response::new(Box::pin(ReceiverStream::new(rx)) as BoxStream<_>);
        response
            .metadata_mut()
            .insert("x-echo", MetadataValue::from_static("1"));
        Ok(response)
    }

    async fn collect(
        &self,
        request: Request<Streaming<EchoRequest>>,
    ) -> Result<Response<CollectResponse>, Status> {
        let mut stream = request.into_inner();
        let mut out = CollectResponse::default();
        let mut watch = CancelWatch::default();
        while let Some(req) = stream.next().await {
            let req = req?;
            watch.tag(&req.string_value);
            // tonic ends a request stream reset with CANCEL as if the client had
            // half-closed it; a handler busy sleeping is dropped instead, which
            // is what makes a cancellation observable here.
            sleep_ms(req.delay_ms.into()).await;
            if req.fail_code != 0 {
                watch.done();
                return Err(failure(req.fail_code, &req.fail_message));
            }
            out.count += 1;
            out.string_values.push(req.string_value);
        }
        watch.done();
        Ok(Response::new(out))
    }

    type ChatStream = BoxStream<EchoResponse>;

    async fn chat(
        &self,
        request: Request<Streaming<EchoRequest>>,
    ) -> Result<Response<Self::ChatStream>, Status> {
        let metadata = ascii_metadata(request.metadata());
        let stream = request.into_inner().map(move |req| {
            let req = req?;
            if req.fail_code != 0 {
                return Err(failure(req.fail_code, &req.fail_message));
            }
            Ok(EchoResponse {
                request: Some(req),
                metadata: metadata.clone(),
            })
        });
        Ok(Response::new(Box::pin(Watched {
            inner: Box::pin(stream),
            watch: CancelWatch::default(),
        })))
    }

    async fn download(
        &self,
        request: Request<DownloadRequest>,
    ) -> Result<Response<HttpBody>, Status> {
        let req = request.into_inner();
        let data = if req.size > 0 {
            (0..req.size).map(|i| i as u8).collect()
        } else {
            format!("file {}", req.name).into_bytes()
        };
        Ok(Response::new(HttpBody {
            content_type: content_type_or_default(req.content_type),
            data,
            extensions: Vec::new(),
        }))
    }

    type DownloadStreamStream = BoxStream<HttpBody>;

    async fn download_stream(
        &self,
        request: Request<DownloadRequest>,
    ) -> Result<Response<Self::DownloadStreamStream>, Status> {
        let req = request.into_inner();
        let content_type = content_type_or_default(req.content_type);
        let chunks: Vec<Result<HttpBody, Status>> = (0..req.chunks.min(1000))
            .map(|i| {
                Ok(HttpBody {
                    content_type: content_type.clone(),
                    data: format!("{}-{i};", req.name).into_bytes(),
                    extensions: Vec::new(),
                })
            })
            .collect();
        let mut chunks = chunks;
        if req.fail_code != 0 {
            chunks.push(Err(Status::new(
                Code::from(req.fail_code),
                format!("failed after {} chunks", req.chunks.min(1000)),
            )));
        }
        Ok(Response::new(Box::pin(futures_util::stream::iter(chunks))))
    }

    async fn upload(&self, request: Request<HttpBody>) -> Result<Response<UploadReply>, Status> {
        let body = request.into_inner();
        Ok(Response::new(UploadReply {
            content_type: body.content_type,
            size: body.data.len() as i64,
            data: body.data,
        }))
    }
}

fn content_type_or_default(requested: String) -> String {
    if requested.is_empty() {
        "text/plain".to_owned()
    } else {
        requested
    }
}

/// Wraps a tonic service so that every response's trailers carry
/// `x-echo-trailer: 1`. tonic has no API for custom trailers on a successful
/// unary response, so this rewrites the body's trailers frame.
pub(crate) fn with_trailer<S>(inner: S) -> WithTrailer<S> {
    WithTrailer { inner }
}

/// See [`with_trailer`].
#[derive(Debug, Clone)]
pub(crate) struct WithTrailer<S> {
    inner: S,
}

impl<S: NamedService> NamedService for WithTrailer<S> {
    const NAME: &'static str = S::NAME;
}

impl<S, B> tonic::codegen::Service<http::Request<B>> for WithTrailer<S>
where
    S: tonic::codegen::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let fut = self.inner.call(req);
        Box::pin(async move {
            let response = fut.await?;
            Ok(response.map(|body| tonic::body::Body::new(TrailerBody { inner: body })))
        })
    }
}

/// A body that adds `x-echo-trailer: 1` to its trailers frame.
struct TrailerBody {
    inner: tonic::body::Body,
}

impl http_body::Body for TrailerBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let frame = ready!(Pin::new(&mut self.inner).poll_frame(cx));
        Poll::Ready(frame.map(|result| {
            result.map(|frame| match frame.into_trailers() {
                Ok(mut trailers) => {
                    trailers.insert("x-echo-trailer", http::HeaderValue::from_static("1"));
                    Frame::trailers(trailers)
                }
                Err(frame) => frame,
            })
        }))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
