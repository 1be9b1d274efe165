//! Streaming calls of every shape (server, client, bidi) through tonic's client
//! over the endpoint's connection. Not retried: a stream may have been partly
//! consumed before a failure shows.

use std::time::Instant;

use bytes::Bytes;
use http::uri::PathAndQuery;
use tonic::codec::CompressionEncoding;
use tonic::metadata::MetadataMap;
use tonic::{Request, Status};

use super::{Picked, StreamReply, Upstream};
use crate::codec::RawCodec;
use crate::conn;
use crate::deadline::Deadline;
use crate::status::transport_is_unavailable;

impl Upstream {
    /// Starts a server-streaming call on `picked`: one request message. The
    /// deadline covers the whole stream: the returned [`StreamReply`] enforces
    /// it on every read.
    pub async fn server_streaming(
        &self,
        picked: Picked,
        path: PathAndQuery,
        message: Bytes,
        metadata: MetadataMap,
        deadline: Deadline,
    ) -> Result<StreamReply, Status> {
        self.start_with(
            picked,
            path,
            tokio_stream::once(message),
            metadata,
            Default::default(),
            deadline,
        )
        .await
    }

    /// Starts a call of any shape on `picked`: the request is a stream of
    /// messages encoded for its schema.
    /// The endpoint's in-flight count and latency cover the call up to the
    /// response headers.
    ///
    /// `extensions` may carry a [`tonic::CancellationHandle`] (see
    /// [`cancellable`]): cancelling it ends the request stream with an error,
    /// which resets the call's HTTP/2 stream, so a client- or bidi-streaming call
    /// abandoned mid-request stops at the backend.
    pub async fn start_with<S>(
        &self,
        picked: Picked,
        path: PathAndQuery,
        messages: S,
        metadata: MetadataMap,
        extensions: tonic::Extensions,
        deadline: Deadline,
    ) -> Result<StreamReply, Status>
    where
        S: tokio_stream::Stream<Item = Bytes> + Send + 'static,
    {
        self.shared
            .budget
            .deposit(&self.config.retry, Instant::now());
        let mut attempt = self.begin(picked.0);
        let metadata = attempt.stamp_metadata(metadata);
        // Connection failures surface from the call as statuses with a source
        // (transport failures, see `retry`), mapped to UNAVAILABLE below.
        let mut grpc = tonic::client::Grpc::new(conn::ConnService(attempt.ep.conn.clone()))
            .accept_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Zstd);
        if self.config.gzip_requests {
            grpc = grpc.send_compressed(CompressionEncoding::Gzip);
        }
        let mut request = Request::from_parts(metadata, extensions, messages);
        if let Some(t) = deadline.remaining() {
            request.set_timeout(t);
        }
        let started = async {
            grpc.streaming(request, path, RawCodec)
                .await
                .map_err(transport_is_unavailable)
        };
        let result = deadline.run(started).await.map(|response| {
            let (headers, stream, _) = response.into_parts();
            StreamReply {
                headers,
                stream,
                deadline,
                call: switchboard_observe::current(),
            }
        });
        if let Err(status) = &result {
            super::record_code(status.code());
        }
        self.finish(&mut attempt, result.as_ref().map(|_| ()));
        result
    }
}

/// Request extensions carrying a fresh [`tonic::CancellationHandle`], for
/// [`Upstream::start_with`]; `cancel()` on the handle resets the call with
/// RST_STREAM(CANCEL) unless the request stream has already ended cleanly.
pub fn cancellable() -> (tonic::Extensions, tonic::CancellationHandle) {
    let mut request = Request::new(());
    let handle = request.cancellation_handle();
    (std::mem::take(request.extensions_mut()), handle)
}
