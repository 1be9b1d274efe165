//! What a Connect request says about itself: its shape (unary or streaming),
//! its codec, its timeout and its compression, all read from the headers (or,
//! for a unary GET, the query string), before anything is decoded.

use std::time::Duration;

use http::header::{CONTENT_TYPE, HeaderValue};
use http::{HeaderMap, Method};
use switchboard_transcode::JsonOptions;
use tonic::{Code, Status};

pub(crate) const PROTOCOL_VERSION: &str = "connect-protocol-version";
pub(crate) const TIMEOUT: &str = "connect-timeout-ms";
pub(crate) const STREAM_CONTENT_ENCODING: &str = "connect-content-encoding";
pub(crate) const STREAM_ACCEPT_ENCODING: &str = "connect-accept-encoding";

/// How messages are written on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Codec {
    /// proto3 JSON (`application/json`, `application/connect+json`).
    Json,
    /// Binary protobuf (`application/proto`, `application/connect+proto`),
    /// passed to and from the backend untouched.
    Proto,
}

impl Codec {
    fn named(name: &str) -> Option<Codec> {
        if name.eq_ignore_ascii_case("json") {
            Some(Codec::Json)
        } else if name.eq_ignore_ascii_case("proto") {
            Some(Codec::Proto)
        } else {
            None
        }
    }

    pub(crate) fn unary_content_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Codec::Json => "application/json",
            Codec::Proto => "application/proto",
        })
    }

    pub(crate) fn stream_content_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Codec::Json => "application/connect+json",
            Codec::Proto => "application/connect+proto",
        })
    }
}

/// The kind of Connect request, as recognised on the public port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `POST` with `application/json` or `application/proto`. `codec` is `None`
    /// for another `application/*` type sent with `Connect-Protocol-Version`
    /// (answered 415).
    Unary { codec: Option<Codec> },
    /// `GET` with `?connect=v1&encoding=...&message=...`.
    Get,
    /// `POST` with `application/connect+json` or `+proto` (`None`: another
    /// `application/connect+*` codec, answered 415).
    Stream { codec: Option<Codec> },
}

/// Whether the request speaks Connect, and how. Everything else (a plain
/// `application/json` POST above all) keeps the gateway's grpc-gateway mapping.
///
/// A POST is Connect when it says so (`Connect-Protocol-Version: 1`) or uses a
/// content type only Connect uses (`application/proto`,
/// `application/connect+*`). A GET is Connect when its query carries
/// `connect=v1` (connect-es and connect-go always send it), or, since the spec
/// makes that optional, both `encoding` and `message` on a path shaped like
/// `/package.Service/Method`; a REST GET whose fields happen to be called
/// `encoding` and `message` is not taken for one.
pub(crate) fn recognise(
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Option<Kind> {
    if method == Method::GET {
        let query = query?;
        let mut connect = false;
        let (mut encoding, mut message) = (false, false);
        for (k, v) in form_urlencoded(query) {
            match &*k {
                "connect" => connect = v == "v1",
                "encoding" => encoding = true,
                "message" => message = true,
                _ => {}
            }
        }
        let rpc_path = switchboard_routes::split_grpc_path(path)
            .is_some_and(|(service, _)| service.contains('.'));
        return (connect || (encoding && message && rpc_path)).then_some(Kind::Get);
    }
    if method != Method::POST {
        return None;
    }
    let declared = headers.contains_key(PROTOCOL_VERSION);
    let media = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().trim())
        .unwrap_or_default();
    let subtype = strip_prefix_ignore_case(media, "application/")?;
    if let Some(codec) = strip_prefix_ignore_case(subtype, "connect+") {
        return Some(Kind::Stream {
            codec: Codec::named(codec),
        });
    }
    match Codec::named(subtype) {
        Some(Codec::Proto) => Some(Kind::Unary {
            codec: Some(Codec::Proto),
        }),
        Some(Codec::Json) if declared => Some(Kind::Unary {
            codec: Some(Codec::Json),
        }),
        None if declared => Some(Kind::Unary { codec: None }),
        _ => None,
    }
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// Splits a query string into decoded `(key, value)` pairs.
pub(crate) fn form_urlencoded(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    query.split('&').filter(|p| !p.is_empty()).map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (decode_component(k), decode_component(v))
    })
}

fn decode_component(s: &str) -> String {
    let plus = s.replace('+', " ");
    percent_encoding::percent_decode_str(&plus)
        .decode_utf8_lossy()
        .into_owned()
}

/// Checks `Connect-Protocol-Version` (only `1` exists; absent is allowed, as
/// connect-go allows it by default).
pub(crate) fn check_version(headers: &HeaderMap) -> Result<(), Status> {
    match headers.get(PROTOCOL_VERSION) {
        None => Ok(()),
        Some(v) if v == "1" => Ok(()),
        Some(v) => Err(Status::invalid_argument(format!(
            "connect-protocol-version must be \"1\": got {v:?}"
        ))),
    }
}

/// `Connect-Timeout-Ms`: at most 10 digits of milliseconds.
pub(crate) fn timeout(headers: &HeaderMap) -> Result<Option<Duration>, Status> {
    let Some(v) = headers.get(TIMEOUT) else {
        return Ok(None);
    };
    let text = v.to_str().unwrap_or_default();
    if text.is_empty() || text.len() > 10 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Status::new(
            Code::InvalidArgument,
            format!("parse timeout: {text:?} is not 1 to 10 digits of milliseconds"),
        ));
    }
    Ok(text.parse::<u64>().ok().map(Duration::from_millis))
}

/// The JSON options of the Connect codec: protojson's defaults, as connect-go
/// and connect-es use them (lowerCamelCase names, enums by name, unpopulated
/// fields left out; both name styles and unknown fields accepted on input),
/// except that a backend's `json.strict` still rejects unknown fields.
pub(crate) fn json_options(strict: bool) -> JsonOptions {
    JsonOptions {
        emit_unpopulated: false,
        strict,
        use_proto_names: false,
        enums_as_ints: false,
    }
}
