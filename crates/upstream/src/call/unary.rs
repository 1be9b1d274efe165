//! One unary gRPC attempt on an endpoint's connection, without tonic's client.
//!
//! A unary call is the hot path of a JSON gateway, and its shape is fixed: one
//! request message (already encoded by the transcoder), then response headers,
//! one message and trailers. Doing it on the h2 stream directly needs no codec
//! buffers, no boxed body or stream types and no extra task; the framing is five
//! bytes each way. Status handling follows tonic's client (the same
//! `Status::from_header_map`), so errors look exactly as they did through tonic:
//! trailers-only answers, statuses in trailers, non-gRPC HTTP answers.

use std::sync::Arc;
use std::time::Instant;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::header::{CONTENT_TYPE, TE, USER_AGENT};
use http::uri::PathAndQuery;
use http::{HeaderValue, Method};
use tonic::Status;
use tonic::metadata::MetadataMap;

use switchboard_codings::{Coding, DecodeError};

use super::{Picked, UnaryReply, Upstream};
use crate::conn::{Conn, ConnError};
use crate::deadline::Deadline;
use crate::endpoint::EndpointState;
use crate::metrics::RetryLabels;
use crate::status::{http_to_code, unreachable};

impl Upstream {
    /// Makes a unary call on the endpoint `picked` with a request message
    /// already encoded for its schema.
    ///
    /// `timeout` is enforced here (DEADLINE_EXCEEDED when it passes) and sent to
    /// the backend as `grpc-timeout`, so both sides give up at the same time. A
    /// failure before the backend answered anything is retried once on another
    /// endpoint of the same schema group (the bytes were encoded for it; with
    /// no other endpoint in it, there is no retry), within the backend's retry
    /// budget and the same deadline.
    pub async fn unary(
        &self,
        picked: Picked,
        path: PathAndQuery,
        message: Bytes,
        metadata: MetadataMap,
        deadline: Deadline,
    ) -> Result<UnaryReply, Status> {
        let call = async {
            let retry = &self.config.retry;
            self.shared.budget.deposit(retry, Instant::now());
            let can_retry = retry.ratio > 0.0 && self.shared.members.load().len() > 1;
            // The request is needed again only if a retry is possible.
            let spare = can_retry.then(|| (path.clone(), message.clone(), metadata.clone()));
            let first = picked.0;
            let status = match self
                .unary_once(first.clone(), path, message, metadata, deadline)
                .await
            {
                Ok(reply) => return Ok(reply),
                Err((status, true)) if spare.is_some() => status,
                Err((status, _)) => return Err(status),
            };
            let (path, message, metadata) = spare.unwrap_or_else(|| unreachable!());
            let group = crate::schema_filter::group(&first);
            let second = match self.choose(path.path(), Some(&first), group) {
                Ok(second) if !Arc::ptr_eq(&second, &first) => Some(second),
                _ => None,
            };
            let outcome = match second {
                None => Err("no_other_endpoint"),
                Some(second) if self.shared.budget.withdraw(retry, Instant::now()) => Ok(second),
                Some(_) => Err("budget_exhausted"),
            };
            let label = |outcome: &'static str| RetryLabels {
                backend: self.name.clone(),
                outcome,
            };
            let second = match outcome {
                Ok(second) => second,
                Err(why) => {
                    self.metrics.retries.get_or_create(&label(why)).inc();
                    return Err(status);
                }
            };
            self.metrics.retries.get_or_create(&label("retried")).inc();
            self.unary_once(second, path, message, metadata, deadline)
                .await
                .map_err(|(status, _)| status)
        };
        let result = deadline.run(call).await;
        super::record_code(
            result
                .as_ref()
                .map_or_else(|s| s.code(), |_| tonic::Code::Ok),
        );
        result
    }

    /// One unary attempt on `ep`. The error says whether it is retryable (the
    /// backend never answered).
    async fn unary_once(
        &self,
        ep: Arc<EndpointState>,
        path: PathAndQuery,
        message: Bytes,
        metadata: MetadataMap,
        deadline: Deadline,
    ) -> Result<UnaryReply, (Status, bool)> {
        let mut attempt = self.begin(ep);
        let metadata = attempt.stamp_metadata(metadata);
        let result = call(
            &attempt.ep.conn,
            path,
            message,
            metadata,
            deadline,
            self.config.gzip_requests,
        )
        .await;
        self.finish(
            &mut attempt,
            result.as_ref().map(|_| ()).map_err(|(s, _)| s),
        );
        result
    }
}

/// The largest response message accepted: tonic's default decoding limit.
const MAX_RESPONSE_MESSAGE: usize = 4 * 1024 * 1024;

/// The codings accepted in replies (`grpc-accept-encoding`).
static ACCEPT_ENCODING: HeaderValue = HeaderValue::from_static("gzip,zstd");

static USER_AGENT_VALUE: HeaderValue =
    HeaderValue::from_static(concat!("switchboard/", env!("CARGO_PKG_VERSION")));

/// Makes the call. The error's flag says whether it may be retried on another
/// endpoint: true when the backend never answered (no response head arrived).
pub(crate) async fn call(
    conn: &Conn,
    path: PathAndQuery,
    message: Bytes,
    metadata: MetadataMap,
    deadline: Deadline,
    gzip: bool,
) -> Result<UnaryReply, (Status, bool)> {
    let mut headers = metadata.into_headers();
    // Replies may come compressed whatever we send (see `first_message`).
    headers.insert("grpc-accept-encoding", ACCEPT_ENCODING.clone());
    let (flag, message) = if gzip {
        headers.insert("grpc-encoding", HeaderValue::from_static("gzip"));
        (1, switchboard_codings::compress(Coding::Gzip, &message))
    } else {
        (0, message)
    };
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    headers.insert(TE, HeaderValue::from_static("trailers"));
    headers.insert(USER_AGENT, USER_AGENT_VALUE.clone());
    if let Some(t) = deadline.header() {
        headers.insert("grpc-timeout", t);
    }
    let mut request = http::Request::new(());
    *request.method_mut() = Method::POST;
    *request.uri_mut() = conn.uri(path);
    *request.headers_mut() = headers;

    let _active = conn.call();
    let mut sender = conn.ready().await.map_err(|e| (transport(e), true))?;
    let (response, mut send) = sender
        .send_request(request, false)
        .map_err(|e| (transport(h2_error(conn, &e)), true))?;
    let mut frame = BytesMut::with_capacity(5 + message.len());
    frame.put_u8(flag);
    frame.put_u32(message.len() as u32);
    frame.put(message);
    send.send_data(frame.freeze(), true)
        .map_err(|e| (transport(h2_error(conn, &e)), true))?;
    let response = response
        .await
        .map_err(|e| (transport(h2_error(conn, &e)), true))?;
    read_reply(conn, response)
        .await
        .map_err(|status| (status, false))
}

/// Reads the response: head, one message, trailers.
async fn read_reply(
    conn: &Conn,
    response: http::Response<h2::RecvStream>,
) -> Result<UnaryReply, Status> {
    let (head, mut body) = response.into_parts();
    // A trailers-only answer: the status is in the head.
    if let Some(status) = Status::from_header_map(&head.headers)
        && status.code() != tonic::Code::Ok
    {
        return Err(status);
    }
    if head.status != http::StatusCode::OK {
        return Err(Status::new(
            http_to_code(head.status),
            format!(
                "endpoint {} answered HTTP {}",
                conn.authority(),
                head.status
            ),
        ));
    }
    let stream_error = |e: h2::Error| {
        Status::unavailable(format!(
            "connection to {} failed mid-response: {e}",
            conn.authority()
        ))
    };
    // Almost always one DATA frame holds the whole message; copy only if not.
    let mut first: Option<Bytes> = None;
    let mut more: Option<BytesMut> = None;
    while let Some(chunk) = body.data().await {
        let chunk = chunk.map_err(stream_error)?;
        let _ = body.flow_control().release_capacity(chunk.len());
        match (&mut first, &mut more) {
            (None, _) => first = Some(chunk),
            (Some(f), None) => {
                let mut m = BytesMut::with_capacity(f.len() + chunk.len());
                m.put(f.clone());
                m.put(chunk);
                more = Some(m);
            }
            (Some(_), Some(m)) => m.put(chunk),
        }
        let received = more
            .as_ref()
            .map_or_else(|| first.as_ref().map_or(0, Bytes::len), BytesMut::len);
        if received > MAX_RESPONSE_MESSAGE + 5 {
            return Err(Status::resource_exhausted(format!(
                "response message larger than {MAX_RESPONSE_MESSAGE} bytes"
            )));
        }
    }
    let trailers = body
        .trailers()
        .await
        .map_err(stream_error)?
        .unwrap_or_default();
    match Status::from_header_map(&trailers) {
        Some(status) if status.code() == tonic::Code::Ok => {}
        Some(mut status) => {
            // Header and trailer metadata stay apart (see `error_head`).
            crate::error_head::attach_head(&mut status, head.headers);
            return Err(status);
        }
        None => {
            return Err(Status::internal(
                "backend response ended without grpc-status",
            ));
        }
    }
    let data = match more {
        Some(m) => m.freeze(),
        None => first.unwrap_or_default(),
    };
    let encoding = head
        .headers
        .get("grpc-encoding")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let message = first_message(data, encoding.as_deref())?;
    Ok(UnaryReply {
        headers: MetadataMap::from_headers(head.headers),
        message,
        trailers: MetadataMap::from_headers(trailers),
    })
}

/// The first length-prefixed message of a response body, decompressed as
/// the response's `grpc-encoding` says when its flag is set.
fn first_message(mut data: Bytes, encoding: Option<&str>) -> Result<Bytes, Status> {
    if data.is_empty() {
        return Err(Status::internal("backend sent no response message"));
    }
    if data.len() < 5 {
        return Err(Status::internal("truncated gRPC message prefix"));
    }
    let compressed = data.get_u8();
    let len = data.get_u32() as usize;
    if len > data.len() {
        return Err(Status::internal(format!(
            "truncated gRPC message: {len} bytes announced, {} received",
            data.len()
        )));
    }
    let message = data.split_to(len);
    if compressed == 0 {
        return Ok(message);
    }
    // As tonic's client: a compressed message needs a coding we accept.
    let coding = match encoding.map(str::trim) {
        Some("gzip") => Coding::Gzip,
        Some("zstd") => Coding::Zstd,
        Some(other) => {
            return Err(Status::unimplemented(format!(
                "backend compressed its reply with {other:?}; accepted are gzip, zstd"
            )));
        }
        None => {
            return Err(Status::internal(
                "backend sent a compressed message without grpc-encoding",
            ));
        }
    };
    switchboard_codings::decompress(coding, &message, MAX_RESPONSE_MESSAGE).map_err(|e| match e {
        DecodeError::TooLarge => Status::resource_exhausted(format!(
            "response message larger than {MAX_RESPONSE_MESSAGE} bytes once decompressed"
        )),
        DecodeError::Corrupt(why) => Status::internal(format!("cannot decompress reply: {why}")),
    })
}

fn h2_error(conn: &Conn, e: &h2::Error) -> ConnError {
    ConnError(format!("HTTP/2 stream to {} failed: {e}", conn.authority()))
}

fn transport(e: ConnError) -> Status {
    unreachable(format!("backend unreachable: {e}"), Arc::new(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_message_checks_its_prefix() {
        let ok = Bytes::from_static(&[0, 0, 0, 0, 2, 8, 1]);
        assert_eq!(
            first_message(ok, None).unwrap(),
            Bytes::from_static(&[8, 1])
        );
        let empty_message = Bytes::from_static(&[0, 0, 0, 0, 0]);
        assert!(first_message(empty_message, None).unwrap().is_empty());
        assert_eq!(
            first_message(Bytes::new(), None).unwrap_err().message(),
            "backend sent no response message"
        );
        assert!(first_message(Bytes::from_static(&[1, 0, 0, 0, 0]), None).is_err());
        assert!(first_message(Bytes::from_static(&[0, 0, 0, 0, 9, 1]), None).is_err());
    }

    #[test]
    fn compressed_replies_are_decoded() {
        let z = switchboard_codings::compress(Coding::Gzip, &[8, 1]);
        let mut frame = vec![1u8];
        frame.extend_from_slice(&(z.len() as u32).to_be_bytes());
        frame.extend_from_slice(&z);
        let frame = Bytes::from(frame);
        assert_eq!(
            first_message(frame.clone(), Some("gzip")).unwrap(),
            Bytes::from_static(&[8, 1])
        );
        assert_eq!(
            first_message(frame.clone(), Some("br")).unwrap_err().code(),
            tonic::Code::Unimplemented
        );
        assert!(first_message(frame, None).is_err());
    }
}
