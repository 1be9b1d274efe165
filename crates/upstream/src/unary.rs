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
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::header::{CONTENT_TYPE, TE, USER_AGENT};
use http::uri::PathAndQuery;
use http::{HeaderMap, HeaderValue, Method};
use tonic::Status;
use tonic::metadata::MetadataMap;

use crate::UnaryReply;
use crate::conn::{Conn, ConnError};
use crate::forward::http_to_code;

/// The largest response message accepted: tonic's default decoding limit.
const MAX_RESPONSE_MESSAGE: usize = 4 * 1024 * 1024;

static USER_AGENT_VALUE: HeaderValue =
    HeaderValue::from_static(concat!("switchboard/", env!("CARGO_PKG_VERSION")));

/// Makes the call. The error's flag says whether it may be retried on another
/// endpoint: true when the backend never answered (no response head arrived).
pub(crate) async fn call(
    conn: &Conn,
    path: PathAndQuery,
    message: Bytes,
    metadata: MetadataMap,
    timeout: Option<Duration>,
) -> Result<UnaryReply, (Status, bool)> {
    let mut headers = metadata.into_headers();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    headers.insert(TE, HeaderValue::from_static("trailers"));
    headers.insert(USER_AGENT, USER_AGENT_VALUE.clone());
    if let Some(t) = timeout {
        headers.insert("grpc-timeout", grpc_timeout(t));
    }
    let mut request = http::Request::new(());
    *request.method_mut() = Method::POST;
    *request.uri_mut() = conn.uri(path);
    *request.headers_mut() = headers;

    let mut sender = conn.ready().await.map_err(|e| (transport(e), true))?;
    let (response, mut send) = sender
        .send_request(request, false)
        .map_err(|e| (transport(h2_error(conn, &e)), true))?;
    let mut frame = BytesMut::with_capacity(5 + message.len());
    frame.put_u8(0);
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
            merge_head(status.metadata_mut(), &head.headers);
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
    let message = first_message(data)?;
    Ok(UnaryReply {
        headers: MetadataMap::from_headers(head.headers),
        message,
        trailers: MetadataMap::from_headers(trailers),
    })
}

/// The first length-prefixed message of a response body.
fn first_message(mut data: Bytes) -> Result<Bytes, Status> {
    if data.is_empty() {
        return Err(Status::internal("backend sent no response message"));
    }
    if data.len() < 5 {
        return Err(Status::internal("truncated gRPC message prefix"));
    }
    let compressed = data.get_u8();
    let len = data.get_u32() as usize;
    if compressed != 0 {
        return Err(Status::internal(
            "backend sent a compressed message although none was accepted",
        ));
    }
    if len > data.len() {
        return Err(Status::internal(format!(
            "truncated gRPC message: {len} bytes announced, {} received",
            data.len()
        )));
    }
    Ok(data.split_to(len))
}

/// Adds the response head's entries to an error status's metadata (tonic's
/// client reports header metadata with the error too).
fn merge_head(into: &mut MetadataMap, head: &HeaderMap) {
    let mut headers = std::mem::take(into).into_headers();
    for (k, v) in head {
        headers.append(k.clone(), v.clone());
    }
    *into = MetadataMap::from_headers(headers);
}

fn h2_error(conn: &Conn, e: &h2::Error) -> ConnError {
    ConnError(format!("HTTP/2 stream to {} failed: {e}", conn.authority()))
}

/// A failure before the backend answered: UNAVAILABLE, marked as a transport
/// failure (retryable, see `retry::is_retryable`), as grpc-go reports it.
fn transport(e: ConnError) -> Status {
    let mut status = Status::unavailable(format!("backend unreachable: {e}"));
    status.set_source(Arc::new(e));
    status
}

/// The `grpc-timeout` header for `t`: at most eight digits, in the finest unit
/// that fits (the gRPC over HTTP/2 spec), rounded up so the backend never gets
/// less time than the gateway allows. The native gRPC pass-through uses it too.
pub fn grpc_timeout(t: Duration) -> HeaderValue {
    const MAX: u128 = 99_999_999;
    let nanos = t.as_nanos();
    let value = [
        (1u128, 'n'),
        (1_000, 'u'),
        (1_000_000, 'm'),
        (1_000_000_000, 'S'),
        (60_000_000_000, 'M'),
        (3_600_000_000_000, 'H'),
    ]
    .iter()
    .find_map(|&(unit, c)| {
        let v = nanos.div_ceil(unit);
        (v <= MAX).then(|| format!("{v}{c}"))
    })
    .unwrap_or_else(|| format!("{MAX}H"));
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("99999999H"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_use_the_finest_unit_that_fits_eight_digits() {
        assert_eq!(grpc_timeout(Duration::from_millis(5)), "5000000n");
        assert_eq!(grpc_timeout(Duration::from_secs(30)), "30000000u");
        assert_eq!(grpc_timeout(Duration::from_secs(3600)), "3600000m");
        assert_eq!(grpc_timeout(Duration::from_secs(400_000)), "400000S");
    }

    #[test]
    fn first_message_checks_its_prefix() {
        let ok = Bytes::from_static(&[0, 0, 0, 0, 2, 8, 1]);
        assert_eq!(first_message(ok).unwrap(), Bytes::from_static(&[8, 1]));
        let empty_message = Bytes::from_static(&[0, 0, 0, 0, 0]);
        assert!(first_message(empty_message).unwrap().is_empty());
        assert_eq!(
            first_message(Bytes::new()).unwrap_err().message(),
            "backend sent no response message"
        );
        assert!(first_message(Bytes::from_static(&[1, 0, 0, 0, 0])).is_err());
        assert!(first_message(Bytes::from_static(&[0, 0, 0, 0, 9, 1])).is_err());
    }
}
