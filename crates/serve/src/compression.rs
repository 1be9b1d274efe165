//! The gateway's one owner of content codings: gzip, br and zstd, both ways.
//!
//! - Negotiation ([`negotiate`]): `Accept-Encoding` with q-values (RFC 9110
//!   §12.5.3); among codings of equal weight the cheapest for its ratio wins
//!   (zstd, then br, then gzip).
//! - Request bodies ([`decompress`]): decoded with the body limit applied to
//!   the decoded size, so a small compressed bomb is refused after reading at
//!   most `limit + 1` bytes of output, never allocated.
//! - Response bodies ([`respond`]): HTTP/JSON answers (unary JSON above
//!   `compression.min_bytes`, NDJSON and SSE streams always) are encoded as
//!   they are written, each frame flushed so a stream's messages reach the
//!   client one by one. Native gRPC, gRPC-Web and Connect carry their own
//!   per-message compression and are never touched here.
//!
//! Connect's gzip (`connect::compress`) encodes and decodes through this
//! module too.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{
    ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue, VARY,
};
use http::{HeaderMap, Response};
use http_body::{Body as _, Frame, SizeHint};
use http_body_util::BodyExt;

use crate::body::Body;
pub(crate) use switchboard_codings::{Coding, DecodeError, Encoder, compress, decompress};

/// Server preference among equally weighted codings.
const PREFERENCE: [Coding; 3] = [Coding::Zstd, Coding::Br, Coding::Gzip];

/// The coding to answer with, among `offered`, for these request headers:
/// the highest `q` wins (`*` stands for every coding not listed), ties go to
/// the earlier in `offered`; `None` is identity.
pub(crate) fn negotiate(headers: &HeaderMap, offered: &[Coding]) -> Option<Coding> {
    let mut weights: [Option<f32>; 3] = [None; 3];
    let mut star: Option<f32> = None;
    let mut any = false;
    for item in headers
        .get_all(ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
    {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or_default().trim();
        if name.is_empty() {
            continue;
        }
        any = true;
        let q = parts
            .filter_map(|p| {
                let p = p.trim();
                p.strip_prefix("q=").or_else(|| p.strip_prefix("Q="))
            })
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0)
            .clamp(0.0, 1.0);
        if name == "*" {
            star = Some(q);
        } else if let Some(c) = Coding::named(name) {
            let slot = &mut weights[index(c)];
            // The first mention counts, as most servers read a repeated token.
            slot.get_or_insert(q);
        }
    }
    if !any {
        return None;
    }
    let mut best: Option<(Coding, f32)> = None;
    for &c in offered {
        let q = weights[index(c)].or(star).unwrap_or(0.0);
        if q > 0.0 && best.is_none_or(|(_, b)| q > b) {
            best = Some((c, q));
        }
    }
    best.map(|(c, _)| c)
}

fn index(c: Coding) -> usize {
    match c {
        Coding::Gzip => 0,
        Coding::Br => 1,
        Coding::Zstd => 2,
    }
}

/// The request body's coding (`Content-Encoding`): `Ok(None)` for identity,
/// `Err` with the coding's name when it is not one this gateway reads.
pub(crate) fn request_coding(headers: &HeaderMap) -> Result<Option<Coding>, String> {
    let Some(v) = headers.get(CONTENT_ENCODING) else {
        return Ok(None);
    };
    let v = v.to_str().unwrap_or("?").trim();
    if v.is_empty() || v.eq_ignore_ascii_case("identity") {
        return Ok(None);
    }
    Coding::named(v).map(Some).ok_or_else(|| v.to_owned())
}

/// Whether a response of this content type is worth compressing: JSON,
/// NDJSON, SSE and text (not protobuf, images or archives, which are
/// compressed already or binary).
fn compressible(headers: &HeaderMap) -> bool {
    let Some(ct) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let ct = ct
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    ct == "application/json"
        || ct.ends_with("+json")
        || ct == "application/x-ndjson"
        || ct == "application/jsonl"
        || ct == "text/event-stream"
        || ct.starts_with("text/")
}

/// Compresses an HTTP/JSON `response` as the request's `Accept-Encoding`
/// asks, and marks it `Vary: Accept-Encoding`. `accept` holds the request's
/// headers' `Accept-Encoding` values.
pub(crate) fn respond(
    settings: &switchboard_config::observability::Compression,
    accept: &HeaderMap,
    mut response: Response<Body>,
) -> Response<Body> {
    if !settings.enabled
        || !compressible(response.headers())
        || response.headers().contains_key(CONTENT_ENCODING)
        || response.status() == http::StatusCode::SWITCHING_PROTOCOLS
    {
        return response;
    }
    response
        .headers_mut()
        .append(VARY, HeaderValue::from_static("accept-encoding"));
    let Some(coding) = negotiate(accept, &PREFERENCE) else {
        return response;
    };
    // A whole body (unary) below the threshold is not worth it; a stream's
    // size is unknown, and it is compressed.
    if let Some(len) = response.body().size_hint().exact()
        && len < settings.min_bytes as u64
    {
        return response;
    }
    if response.body().is_end_stream() {
        return response;
    }
    let h = response.headers_mut();
    h.remove(CONTENT_LENGTH);
    h.insert(CONTENT_ENCODING, coding.header());
    response.map(|inner| {
        Compressed {
            inner,
            encoder: Some(Encoder::new(coding)),
            pending: None,
        }
        .boxed_unsync()
    })
}

/// A response body encoded frame by frame.
struct Compressed {
    inner: Body,
    /// `None` once finished.
    encoder: Option<Encoder>,
    /// A trailers frame waiting behind the encoder's final bytes.
    pending: Option<Frame<Bytes>>,
}

impl http_body::Body for Compressed {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Some(frame) = self.pending.take() {
            return Poll::Ready(Some(Ok(frame)));
        }
        loop {
            let Some(encoder) = self.encoder.as_mut() else {
                return Poll::Ready(None);
            };
            let _ = encoder;
            match Pin::new(&mut self.inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => {
                        let Some(encoder) = self.encoder.as_mut() else {
                            return Poll::Ready(None);
                        };
                        let out = encoder.chunk(&data);
                        if out.is_empty() {
                            continue;
                        }
                        return Poll::Ready(Some(Ok(Frame::data(out))));
                    }
                    Err(trailers) => {
                        // Trailers end the body: the encoding ends first.
                        let tail = self.encoder.take().map(Encoder::finish);
                        self.pending = Some(trailers);
                        if let Some(tail) = tail.filter(|t| !t.is_empty()) {
                            return Poll::Ready(Some(Ok(Frame::data(tail))));
                        }
                        return Poll::Ready(self.pending.take().map(Ok));
                    }
                },
                Poll::Ready(Some(Err(never))) => match never {},
                Poll::Ready(None) => {
                    let tail = self.encoder.take().map(Encoder::finish);
                    return Poll::Ready(tail.filter(|t| !t.is_empty()).map(|t| Ok(Frame::data(t))));
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.encoder.is_none() && self.pending.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn negotiation_honours_q_values() {
        let n = |v: &str| negotiate(&accept(v), &PREFERENCE);
        assert_eq!(n("gzip"), Some(Coding::Gzip));
        assert_eq!(n("gzip, deflate, br, zstd"), Some(Coding::Zstd));
        assert_eq!(n("gzip;q=1.0, br;q=0.5"), Some(Coding::Gzip));
        assert_eq!(n("br;q=0.9, gzip;q=0.8"), Some(Coding::Br));
        assert_eq!(n("zstd;q=0, gzip;q=0.1"), Some(Coding::Gzip));
        assert_eq!(n("*;q=0.5, zstd;q=0"), Some(Coding::Br));
        assert_eq!(n("*"), Some(Coding::Zstd));
        assert_eq!(n("identity"), None);
        assert_eq!(n("deflate"), None);
        assert_eq!(n("gzip;q=0"), None);
        assert_eq!(n("x-gzip"), Some(Coding::Gzip));
        assert_eq!(negotiate(&HeaderMap::new(), &PREFERENCE), None);
        assert_eq!(
            negotiate(&accept("br, gzip"), &[Coding::Gzip]),
            Some(Coding::Gzip)
        );
    }

    #[tokio::test]
    async fn streams_are_flushed_per_frame() {
        use futures_util::stream;
        use http_body_util::StreamBody;
        use std::io::Read as _;
        let frames = vec![
            Ok::<_, std::convert::Infallible>(Frame::data(Bytes::from_static(b"{\"a\":1}\n"))),
            Ok(Frame::data(Bytes::from_static(b"{\"a\":2}\n"))),
        ];
        let body = StreamBody::new(stream::iter(frames)).boxed_unsync();
        let response = Response::builder()
            .header(CONTENT_TYPE, "application/x-ndjson")
            .body(body)
            .unwrap();
        let settings = switchboard_config::observability::Compression::default();
        let r = respond(&settings, &accept("gzip"), response);
        assert_eq!(r.headers()[CONTENT_ENCODING], "gzip");
        assert_eq!(r.headers()[VARY], "accept-encoding");
        let mut body = r.into_body();
        let mut got = Vec::new();
        let mut chunks = 0;
        while let Some(frame) = body.frame().await {
            got.extend_from_slice(&frame.unwrap().into_data().unwrap());
            chunks += 1;
            if chunks == 1 {
                // The first message decodes on its own (a sync flush).
                let mut d = flate2::read::GzDecoder::new(&got[..]);
                let mut partial = Vec::new();
                let _ = d.read_to_end(&mut partial);
                assert_eq!(partial, b"{\"a\":1}\n");
            }
        }
        assert!(chunks >= 2);
        assert_eq!(
            &decompress(Coding::Gzip, &got, 1000).unwrap()[..],
            b"{\"a\":1}\n{\"a\":2}\n"
        );
    }

    #[test]
    fn small_unary_and_binary_bodies_stay_identity() {
        let settings = switchboard_config::observability::Compression::default();
        let small = Response::builder()
            .header(CONTENT_TYPE, "application/json")
            .body(crate::body::full("{}"))
            .unwrap();
        let r = respond(&settings, &accept("gzip"), small);
        assert!(!r.headers().contains_key(CONTENT_ENCODING));
        assert_eq!(r.headers()[VARY], "accept-encoding");
        let proto = Response::builder()
            .header(CONTENT_TYPE, "application/octet-stream")
            .body(crate::body::full(vec![0u8; 5000]))
            .unwrap();
        let r = respond(&settings, &accept("gzip"), proto);
        assert!(!r.headers().contains_key(CONTENT_ENCODING));
        let off = switchboard_config::observability::Compression {
            enabled: false,
            min_bytes: 0,
        };
        let big = Response::builder()
            .header(CONTENT_TYPE, "application/json")
            .body(crate::body::full(vec![b' '; 5000]))
            .unwrap();
        let r = respond(&off, &accept("gzip"), big);
        assert!(!r.headers().contains_key(CONTENT_ENCODING));
        assert!(!r.headers().contains_key(VARY));
    }
}
