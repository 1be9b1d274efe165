//! Unit tests of the Connect pieces that need no network: recognition, codes,
//! envelopes, compression negotiation, metadata and end-of-stream messages.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};
use tonic::metadata::{MetadataMap, MetadataValue};
use tonic::{Code, Status};

use super::codec::{Codec, Kind, recognise, timeout};
use super::compress::{self, Encoding};
use super::envelope::{Decoder, FLAG_END_STREAM, frame};
use super::{error, metadata};

fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(*k, HeaderValue::from_static(v));
    }
    h
}

#[test]
fn recognises_connect_and_leaves_grpc_gateway_alone() {
    let post = |pairs| recognise(&Method::POST, "/a.B/C", &headers(pairs), None);
    assert_eq!(post(&[("content-type", "application/json")]), None);
    assert_eq!(post(&[("content-type", "application/x-protobuf")]), None);
    assert_eq!(post(&[("content-type", "application/grpc")]), None);
    assert_eq!(post(&[]), None);
    assert_eq!(
        post(&[
            ("content-type", "application/json; charset=utf-8"),
            ("connect-protocol-version", "1")
        ]),
        Some(Kind::Unary {
            codec: Some(Codec::Json)
        })
    );
    assert_eq!(
        post(&[("content-type", "application/proto")]),
        Some(Kind::Unary {
            codec: Some(Codec::Proto)
        })
    );
    assert_eq!(
        post(&[
            ("content-type", "application/xml"),
            ("connect-protocol-version", "1")
        ]),
        Some(Kind::Unary { codec: None })
    );
    assert_eq!(
        post(&[("content-type", "Application/Connect+JSON")]),
        Some(Kind::Stream {
            codec: Some(Codec::Json)
        })
    );
    assert_eq!(
        post(&[("content-type", "application/connect+proto")]),
        Some(Kind::Stream {
            codec: Some(Codec::Proto)
        })
    );
    assert_eq!(
        post(&[("content-type", "application/connect+cbor")]),
        Some(Kind::Stream { codec: None })
    );
    let get = |q| recognise(&Method::GET, "/a.B/C", &HeaderMap::new(), q);
    assert_eq!(
        get(Some("connect=v1&encoding=json&message=%7B%7D")),
        Some(Kind::Get)
    );
    assert_eq!(get(Some("encoding=json&message=%7B%7D")), Some(Kind::Get));
    // A REST GET with fields of those names stays REST.
    let rest = |path| {
        recognise(
            &Method::GET,
            path,
            &HeaderMap::new(),
            Some("encoding=a&message=b"),
        )
    };
    assert_eq!(rest("/v1/notes/7"), None);
    assert_eq!(rest("/v1/notes"), None);
    assert_eq!(get(Some("message=1")), None);
    assert_eq!(get(Some("page_size=3")), None);
    assert_eq!(get(None), None);
    assert_eq!(
        recognise(
            &Method::PUT,
            "/a.B/C",
            &headers(&[("content-type", "application/proto")]),
            None
        ),
        None
    );
}

#[test]
fn codes_and_http_statuses_follow_the_spec() {
    let table = [
        (Code::Cancelled, "canceled", 499),
        (Code::Unknown, "unknown", 500),
        (Code::InvalidArgument, "invalid_argument", 400),
        (Code::DeadlineExceeded, "deadline_exceeded", 504),
        (Code::NotFound, "not_found", 404),
        (Code::AlreadyExists, "already_exists", 409),
        (Code::PermissionDenied, "permission_denied", 403),
        (Code::ResourceExhausted, "resource_exhausted", 429),
        (Code::FailedPrecondition, "failed_precondition", 400),
        (Code::Aborted, "aborted", 409),
        (Code::OutOfRange, "out_of_range", 400),
        (Code::Unimplemented, "unimplemented", 501),
        (Code::Internal, "internal", 500),
        (Code::Unavailable, "unavailable", 503),
        (Code::DataLoss, "data_loss", 500),
        (Code::Unauthenticated, "unauthenticated", 401),
    ];
    for (code, name, http) in table {
        assert_eq!(error::code_name(code), name);
        assert_eq!(error::http_status(code), http, "{name}");
    }
}

#[test]
fn error_json_without_details() {
    let json = error::error_json(None, &Status::not_found("no \"book\""));
    assert_eq!(json, br#"{"code":"not_found","message":"no \"book\""}"#);
    let json = error::error_json(None, &Status::internal(""));
    assert_eq!(json, br#"{"code":"internal"}"#);
}

#[test]
fn timeouts() {
    let t = |v: &'static str| timeout(&headers(&[("connect-timeout-ms", v)]));
    assert_eq!(
        t("250").unwrap(),
        Some(std::time::Duration::from_millis(250))
    );
    assert_eq!(
        t("9999999999").unwrap(),
        Some(std::time::Duration::from_millis(9_999_999_999))
    );
    assert!(t("12345678901").is_err());
    assert!(t("-1").is_err());
    assert!(t("1s").is_err());
    assert_eq!(timeout(&HeaderMap::new()).unwrap(), None);
}

#[test]
fn envelopes_split_anywhere() {
    let mut wire = frame(0, b"hello").to_vec();
    wire.extend_from_slice(&frame(FLAG_END_STREAM, b"{}"));
    let mut d = Decoder::new(100);
    let mut got = Vec::new();
    for byte in &wire {
        d.push(&[*byte]);
        while let Some(env) = d.next().unwrap() {
            got.push(env);
        }
    }
    assert_eq!(
        got,
        [
            (0, Bytes::from_static(b"hello")),
            (FLAG_END_STREAM, Bytes::from_static(b"{}"))
        ]
    );
    assert!(d.finish().is_ok());
    let mut d = Decoder::new(4);
    d.push(&frame(0, b"hello"));
    assert_eq!(d.next().unwrap_err().code(), Code::ResourceExhausted);
    let mut d = Decoder::new(100);
    d.push(&[0, 0, 0]);
    assert!(d.next().unwrap().is_none());
    assert_eq!(d.finish().unwrap_err().code(), Code::InvalidArgument);
}

#[test]
fn compression_negotiation_and_round_trip() {
    let accept = |v: &'static str| {
        compress::response_encoding(&headers(&[("accept-encoding", v)]), "accept-encoding")
    };
    assert_eq!(accept("gzip"), Encoding::Gzip);
    assert_eq!(accept("br, gzip;q=0.5"), Encoding::Gzip);
    assert_eq!(accept("gzip;q=0"), Encoding::Identity);
    assert_eq!(accept("br"), Encoding::Identity);
    assert_eq!(
        compress::response_encoding(&HeaderMap::new(), "accept-encoding"),
        Encoding::Identity
    );
    let request = |v: &'static str| {
        compress::request_encoding(&headers(&[("content-encoding", v)]), "content-encoding")
    };
    assert_eq!(request("gzip").unwrap(), Encoding::Gzip);
    assert_eq!(request("identity").unwrap(), Encoding::Identity);
    assert_eq!(request("br").unwrap_err().code(), Code::Unimplemented);

    let data = vec![b'a'; 5000];
    let zipped = compress::gzip(&data);
    assert!(zipped.len() < 100);
    assert_eq!(
        compress::decompress(Encoding::Gzip, zipped.clone(), 5000).unwrap(),
        data
    );
    assert_eq!(
        compress::decompress(Encoding::Gzip, zipped, 4999)
            .unwrap_err()
            .code(),
        Code::ResourceExhausted,
        "a bomb is stopped at the limit"
    );
    assert_eq!(
        compress::decompress(Encoding::Gzip, Bytes::from_static(b"nope"), 10)
            .unwrap_err()
            .code(),
        Code::InvalidArgument
    );
}

#[test]
fn request_headers_become_metadata() {
    let h = headers(&[
        ("content-type", "application/json"),
        ("connect-protocol-version", "1"),
        ("connect-timeout-ms", "5"),
        ("accept-encoding", "gzip"),
        ("authorization", "Bearer t"),
        ("x-tenant", "acme"),
        ("x-blob-bin", "AAEC"),
        ("x-forwarded-for", "10.0.0.1"),
        ("grpc-timeout", "1S"),
    ]);
    let md =
        metadata::request_metadata(&h, Some("gw"), Some("127.0.0.1:9".parse().unwrap())).unwrap();
    assert_eq!(md.get("authorization").unwrap(), "Bearer t");
    assert_eq!(md.get("x-tenant").unwrap(), "acme");
    assert_eq!(
        md.get_bin("x-blob-bin")
            .unwrap()
            .to_bytes()
            .unwrap()
            .as_ref(),
        [0, 1, 2]
    );
    assert_eq!(md.get("x-forwarded-for").unwrap(), "10.0.0.1, 127.0.0.1");
    assert_eq!(md.get("x-forwarded-host").unwrap(), "gw");
    for hidden in [
        "content-type",
        "connect-protocol-version",
        "connect-timeout-ms",
        "accept-encoding",
        "grpc-timeout",
    ] {
        assert!(md.get(hidden).is_none(), "{hidden}");
    }
    let bad = headers(&[("x-blob-bin", "!!!")]);
    assert_eq!(
        metadata::request_metadata(&bad, None, None)
            .unwrap_err()
            .code(),
        Code::InvalidArgument
    );
}

#[test]
fn response_metadata_as_headers_and_end_of_stream_json() {
    let mut md = MetadataMap::new();
    md.insert(
        "content-type",
        MetadataValue::from_static("application/grpc"),
    );
    md.insert("grpc-status", MetadataValue::from_static("0"));
    md.insert("x-one", MetadataValue::from_static("1"));
    md.append("x-many", MetadataValue::from_static("a"));
    md.append("x-many", MetadataValue::from_static("b"));
    let mut h = HeaderMap::new();
    metadata::to_headers(&md, "trailer-", &mut h);
    assert_eq!(h.len(), 3, "{h:?}");
    assert_eq!(h["trailer-x-one"], "1");
    assert!(!h.contains_key("trailer-content-type"));
    let json: serde_json::Value = serde_json::from_slice(&metadata::to_json(&md).unwrap()).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"x-one": ["1"], "x-many": ["a", "b"]})
    );
    assert!(metadata::to_json(&MetadataMap::new()).is_none());
}

#[test]
fn end_of_stream_messages() {
    let parse = |b: Bytes| {
        let mut d = Decoder::new(1 << 20);
        d.push(&b);
        let (flags, payload) = d.next().unwrap().unwrap();
        assert_eq!(flags, FLAG_END_STREAM);
        serde_json::from_slice::<serde_json::Value>(&payload).unwrap()
    };
    let ok = super::stream::end_stream(None, None, &MetadataMap::new());
    assert_eq!(parse(ok), serde_json::json!({}));
    let mut md = MetadataMap::new();
    md.insert("x-t", MetadataValue::from_static("1"));
    let failed = super::stream::end_stream(None, Some(&Status::aborted("busy")), &md);
    assert_eq!(
        parse(failed),
        serde_json::json!({"error": {"code": "aborted", "message": "busy"}, "metadata": {"x-t": ["1"]}})
    );
}
