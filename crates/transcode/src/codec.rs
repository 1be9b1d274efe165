//! Body codecs and their negotiation: which wire format a request body is read
//! in and which one the response is written in, chosen per request from
//! `Content-Type` and `Accept`, as grpc-gateway's `MarshalerForRequest`
//! (runtime/marshaler_registry.go) chooses a marshaler.
//!
//! Two codecs are registered: JSON (`application/json`, and the default for
//! everything else, like grpc-gateway's `"*"` marshaler) and binary protobuf
//! (`application/x-protobuf`, grpc-gateway's `ProtoMarshaller` as it is usually
//! registered with `WithMarshalerOption`). grpc-gateway registers no protobuf
//! marshaler by default; registering one costs JSON clients nothing, since a
//! request that names no codec (or one nobody claims) is still read as JSON.
//! `application/octet-stream` is deliberately *not* claimed: it is what raw
//! uploads (`google.api.HttpBody`) and misconfigured JSON clients send.
//!
//! Negotiation, as in grpc-gateway: the inbound codec is the first
//! `Content-Type` (parameters ignored) that a codec claims, else JSON; the
//! outbound codec is the first `Accept` value a codec claims, else the inbound
//! one. Unlike grpc-gateway, which compares each whole `Accept` header value
//! with its registry, an `Accept` list (`application/x-protobuf, */*;q=0.1`) is
//! split and its parameters ignored, so ordinary clients' headers work.

use std::borrow::Cow;

use bytes::Bytes;
use prost::Message as _;
use prost_reflect::{DynamicMessage, Value};

use crate::response::response_to_json;
use crate::status::RpcStatus;
use crate::{JsonOptions, MethodPlan, TranscodeError};

/// A body wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Codec {
    /// proto3 JSON (grpc-gateway's `JSONPb`). The default.
    #[default]
    Json,
    /// Binary protobuf, the message's own encoding.
    Protobuf,
}

/// The media type the protobuf codec claims and answers with.
pub const PROTOBUF_MEDIA_TYPE: &str = "application/x-protobuf";

impl Codec {
    /// The codec claiming a media type (`type/subtype`, case-insensitive, no
    /// parameters), if any.
    fn for_media_type(media: &str) -> Option<Codec> {
        if media.eq_ignore_ascii_case("application/json") {
            Some(Codec::Json)
        } else if media.eq_ignore_ascii_case(PROTOBUF_MEDIA_TYPE) {
            Some(Codec::Protobuf)
        } else {
            None
        }
    }

    /// The `Content-Type` of a body this codec wrote.
    pub fn content_type(self) -> &'static str {
        match self {
            Codec::Json => "application/json",
            Codec::Protobuf => PROTOBUF_MEDIA_TYPE,
        }
    }
}

/// The codecs chosen for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Negotiated {
    /// How the request body is read.
    pub inbound: Codec,
    /// How the response (and an error) is written.
    pub outbound: Codec,
}

/// Chooses the codecs from the request's `Content-Type` and `Accept` header
/// values (every value of each, in order; non-UTF-8 values are skipped).
pub fn negotiate<'a>(
    content_types: impl IntoIterator<Item = &'a [u8]>,
    accepts: impl IntoIterator<Item = &'a [u8]>,
) -> Negotiated {
    let media = |v: &'a [u8]| {
        std::str::from_utf8(v)
            .ok()
            .map(|s| s.split(';').next().unwrap_or("").trim())
    };
    let inbound = content_types
        .into_iter()
        .filter_map(media)
        .find_map(Codec::for_media_type)
        .unwrap_or_default();
    let outbound = accepts
        .into_iter()
        .filter_map(|v| std::str::from_utf8(v).ok())
        .flat_map(|v| v.split(','))
        .find_map(|item| Codec::for_media_type(item.split(';').next().unwrap_or("").trim()))
        .unwrap_or(inbound);
    Negotiated { inbound, outbound }
}

/// An encoded response body and its `Content-Type` (empty: send none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// The content type of the body (`application/json`, or an `HttpBody`'s own).
    pub content_type: Cow<'static, str>,
    /// The encoded response body.
    pub body: Bytes,
}

/// `google.api.HttpBody`, hand-written: only its two scalar fields are used
/// (`extensions`, number 3, is skipped when decoding and never written).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct HttpBody {
    #[prost(string, tag = "1")]
    pub content_type: String,
    #[prost(bytes = "bytes", tag = "2")]
    pub data: Bytes,
}

/// Encodes a protobuf response for the client: an HttpBody response raw, with
/// its own content type, whatever the codec (grpc-gateway's `HTTPBodyMarshaler`
/// wraps every marshaler); otherwise JSON, or the upstream bytes themselves for
/// protobuf (no decode at all unless `response_body` picks a field).
pub(crate) fn encode_response(
    plan: &MethodPlan,
    opts: &JsonOptions,
    codec: Codec,
    proto: Bytes,
) -> Result<Encoded, TranscodeError> {
    if plan.raw_response {
        let body = HttpBody::decode(proto)
            .map_err(|e| TranscodeError(format!("invalid google.api.HttpBody response: {e}")))?;
        return Ok(Encoded {
            content_type: Cow::Owned(body.content_type),
            body: body.data,
        });
    }
    let body = match codec {
        Codec::Json => response_to_json(plan, opts, &proto)?.into(),
        Codec::Protobuf => match &plan.response_body {
            None => proto,
            Some(field) => {
                let msg = DynamicMessage::decode(plan.output.clone(), proto)
                    .map_err(|e| TranscodeError(format!("invalid response message: {e}")))?;
                match msg.get_field(field).as_ref() {
                    Value::Message(m) => m.encode_to_vec().into(),
                    // grpc-gateway's ProtoMarshaller, given a non-message field.
                    _ => return Err(TranscodeError("unable to marshal non proto field".into())),
                }
            }
        },
    };
    Ok(Encoded {
        content_type: Cow::Borrowed(codec.content_type()),
        body,
    })
}

/// A gRPC error as a binary `google.rpc.Status` (what grpc-gateway's error
/// handler writes through a protobuf outbound marshaler). The details are taken
/// from `grpc-status-details-bin` as they are, undecoded.
pub(crate) fn status_to_proto(code: i32, message: &str, details_bin: Option<&[u8]>) -> Vec<u8> {
    let details = details_bin
        .and_then(|b| RpcStatus::decode(b).ok())
        .map(|s| s.details)
        .unwrap_or_default();
    RpcStatus {
        code,
        message: message.to_owned(),
        details,
    }
    .encode_to_vec()
}
