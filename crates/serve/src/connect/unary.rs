//! Unary Connect calls: `POST` with an `application/json` or
//! `application/proto` body, and `GET` with the message in the query string
//! for methods marked `idempotency_level = NO_SIDE_EFFECTS`, so HTTP caches can
//! keep the answers.
//!
//! The response is the message in the request's codec with status 200; header
//! metadata as plain headers, trailer metadata as `trailer-<key>` headers (a
//! unary Connect response has no HTTP trailers). An error is Connect's JSON
//! error body with the spec's HTTP status, the error's metadata as headers.

use crate::body::RequestBody;
use base64::Engine as _;
use bytes::Bytes;
use http::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_TYPE, HeaderValue, VARY};
use http::{HeaderMap, Request, Response};
use http_body_util::{BodyExt as _, Limited};
use switchboard_transcode as transcode;
use tonic::Status;

use super::codec::{self, Codec, json_options};
use super::compress::{self, Encoding};
use super::{Call, error, metadata};
use crate::body::{Body, full};

/// A unary POST.
pub(super) async fn post(
    call: Call<'_>,
    codec: Option<Codec>,
    req: Request<RequestBody>,
) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let codec = match call.codec_for(codec, false, &parts.headers) {
        Ok(codec) => codec,
        Err(unsupported) => return unsupported,
    };
    let prepared = async {
        codec::check_version(&parts.headers)?;
        let encoding = compress::request_encoding(&parts.headers, CONTENT_ENCODING.as_str())?;
        let body = read_limited(body, call.max_message_bytes).await?;
        compress::decompress(encoding, body, call.max_message_bytes)
    }
    .await;
    match prepared {
        Ok(payload) => {
            let accept = compress::response_encoding(&parts.headers, ACCEPT_ENCODING.as_str());
            respond(&call, codec, &parts.headers, &parts.uri, payload, accept).await
        }
        Err(status) => error_response(Some(call.backend), &status),
    }
}

/// A unary GET: `?connect=v1&encoding=json|proto&message=...[&base64=1]
/// [&compression=gzip]`.
pub(super) async fn get(call: Call<'_>, req: Request<RequestBody>) -> Response<Body> {
    let (parts, _body) = req.into_parts();
    let allowed = call.plan().map(|p| {
        p.no_side_effects && !p.method.is_client_streaming() && !p.method.is_server_streaming()
    });
    if !matches!(allowed, Ok(true)) {
        // connect-go's answer: only POST is served for this method.
        let mut response = error_response(
            Some(call.backend),
            &Status::unimplemented(format!(
                "{} is not marked idempotency_level = NO_SIDE_EFFECTS: use POST",
                call.path
            )),
        );
        *response.status_mut() = http::StatusCode::METHOD_NOT_ALLOWED;
        response
            .headers_mut()
            .insert(http::header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    let query = parts.uri.query().unwrap_or_default();
    let parsed = get_message(query, call.max_message_bytes);
    let mut response = match parsed {
        Ok((codec, payload)) => {
            let accept = compress::response_encoding(&parts.headers, ACCEPT_ENCODING.as_str());
            respond(&call, codec, &parts.headers, &parts.uri, payload, accept).await
        }
        Err(status) => error_response(Some(call.backend), &status),
    };
    // The answer depends on the compression asked for; caches must know.
    response
        .headers_mut()
        .append(VARY, HeaderValue::from_static("accept-encoding"));
    response
}

/// The codec and the (decompressed) message of a GET's query.
fn get_message(query: &str, limit: usize) -> Result<(Codec, Bytes), Status> {
    let (mut encoding, mut message, mut base64, mut compression) = (None, None, false, None);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let raw = || -> Vec<u8> {
            let plus = v.replace('+', " ");
            percent_encoding::percent_decode_str(&plus).collect()
        };
        match k {
            "connect" if v != "v1" => {
                return Err(Status::invalid_argument(format!(
                    "connect must be \"v1\": got {v:?}"
                )));
            }
            "encoding" => encoding = Some(String::from_utf8_lossy(&raw()).into_owned()),
            "message" => message = Some(raw()),
            "base64" => base64 = v == "1",
            "compression" => compression = Some(String::from_utf8_lossy(&raw()).into_owned()),
            _ => {}
        }
    }
    let codec = match encoding.as_deref() {
        None => return Err(Status::invalid_argument("missing encoding parameter")),
        Some("json") => Codec::Json,
        Some("proto") => Codec::Proto,
        Some(other) => {
            return Err(Status::invalid_argument(format!(
                "invalid message encoding: {other:?}"
            )));
        }
    };
    let message = message.ok_or_else(|| Status::invalid_argument("missing message parameter"))?;
    let message = if base64 {
        // URL-safe alphabet, padding optional (connect-go accepts both).
        let trimmed: Vec<u8> = message.into_iter().filter(|b| *b != b'=').collect();
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&trimmed)
            .map_err(|e| Status::invalid_argument(format!("invalid base64 message: {e}")))?
    } else {
        message
    };
    if message.len() > limit {
        return Err(Status::resource_exhausted(format!(
            "request message exceeds the {limit}-byte limit"
        )));
    }
    let encoding = match compression.as_deref() {
        None => Encoding::Identity,
        Some(name) => compress::named_or_unimplemented(name)?,
    };
    Ok((
        codec,
        compress::decompress(encoding, message.into(), limit)?,
    ))
}

/// Calls the backend with `payload` (the request message in `codec`) and
/// writes the answer.
async fn respond(
    call: &Call<'_>,
    codec: Codec,
    headers: &HeaderMap,
    uri: &http::Uri,
    payload: Bytes,
    accept: Encoding,
) -> Response<Body> {
    let backend = call.backend;
    let result = async {
        let (deadline, md) = call.deadline_and_metadata(headers, uri)?;
        // The endpoint first, then the message encoded for its schema.
        let (endpoint, plan) = call.choose()?;
        let message = match codec {
            Codec::Proto => payload,
            Codec::Json => {
                let opts = json_options(backend.json.strict);
                transcode::message_from_json(plan.clone()?, &opts, &payload)
                    .map_err(|e| Status::invalid_argument(e.0))?
            }
        };
        let reply = backend
            .upstream
            .unary(endpoint, call.grpc_path()?, message, md, deadline)
            .await?;
        let body: Bytes = match codec {
            Codec::Proto => reply.message.clone(),
            Codec::Json => {
                let opts = json_options(backend.json.strict);
                transcode::response_to_json(plan?, &opts, &reply.message)
                    .map_err(|e| {
                        Status::internal(format!("cannot encode response as JSON: {}", e.0))
                    })?
                    .into()
            }
        };
        Ok::<_, Status>((reply, body))
    }
    .await;
    let (reply, body) = match result {
        Ok(r) => r,
        Err(status) => return error_response(Some(backend), &status),
    };
    let (body, compressed) = if accept == Encoding::Gzip && body.len() >= compress::MIN_BYTES {
        (compress::gzip(&body), true)
    } else {
        (body, false)
    };
    let mut response = Response::new(full(body));
    let h = response.headers_mut();
    metadata::to_headers(&reply.headers, "", h);
    metadata::to_headers(&reply.trailers, "trailer-", h);
    h.insert(CONTENT_TYPE, codec.unary_content_type());
    h.insert(
        ACCEPT_ENCODING,
        HeaderValue::from_static(compress::SUPPORTED),
    );
    if compressed {
        h.insert(
            CONTENT_ENCODING,
            HeaderValue::from_static(Encoding::Gzip.name()),
        );
    }
    response
}

/// A unary Connect error: the spec's HTTP status, `application/json`, the
/// error body, and the error's metadata (a trailers-only gRPC answer carries
/// all of it) as headers. `backend` supplies the descriptors for `debug`.
pub(super) fn error_response(
    backend: Option<&switchboard_live::BackendRuntime>,
    status: &Status,
) -> Response<Body> {
    let body = error::error_json(backend.map(|b| &b.pool), status);
    let mut response = Response::new(full(body));
    *response.status_mut() = http::StatusCode::from_u16(error::http_status(status.code()))
        .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    let h = response.headers_mut();
    metadata::to_headers(status.metadata(), "", h);
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// Reads a whole unary body, bounded by `limit` (RESOURCE_EXHAUSTED past it).
async fn read_limited(body: RequestBody, limit: usize) -> Result<Bytes, Status> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(Status::resource_exhausted(
            format!("request body exceeds the {limit}-byte limit"),
        )),
        Err(e) => Err(Status::invalid_argument(format!(
            "cannot read request body: {e}"
        ))),
    }
}
