//! The secure edge's hook in the entry service: the one place every call shape
//! passes (HTTP/JSON unary and streaming, SSE, WebSocket, native gRPC and
//! gRPC-Web), after the request's backend is known and before any shape
//! starts. The policies themselves (authentication, rate and concurrency
//! limits) are `switchboard-edge`'s; this module finds the backend and method,
//! asks [`BackendPolicy::admit`], and hands back a refusal ([`Refused`]) that
//! the entry writes in the request's own protocol: a `google.rpc.Status` JSON
//! body with grpc-gateway's HTTP status for HTTP/JSON, a trailers-only answer
//! (HTTP 200, `grpc-status`) for gRPC and gRPC-Web, Connect's error form
//! (written by `connect/`) for Connect.
//!
//! With no policy on any backend of the live table this costs one flag check.
//!
//! [`BackendPolicy::admit`]: switchboard_edge::BackendPolicy::admit

use std::net::SocketAddr;

use crate::body::RequestBody;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Request, Response};
use switchboard_edge::{Carrier, Guard, Rejection};
use switchboard_routes::{GrpcLookup, Lookup};
use switchboard_transcode as transcode;

use crate::body::{Body, json_response};
use crate::gateway::Gateway;
use crate::grpc::Protocol;
use crate::json::websocket;

/// Admits `req` or answers for it. On admission the request may have gained
/// forwarded-claim metadata (and lost client copies of it); the guard, if
/// any, must live until the response ends (see [`hold`]).
pub(crate) fn admit(
    gateway: &Gateway,
    req: Request<RequestBody>,
    peer: Option<SocketAddr>,
    protocol: Protocol,
) -> Result<(Request<RequestBody>, Option<Guard>), Refused> {
    let Some(snapshot) = gateway.live.snapshot() else {
        return Ok((req, None));
    };
    if !snapshot.edge_active {
        return Ok((req, None));
    }
    let path = req.uri().path();
    let (index, method) = match protocol {
        Protocol::Grpc | Protocol::GrpcWeb => match snapshot.table.find_grpc(path) {
            GrpcLookup::Found { backend, .. } => (backend, path[1..].to_string()),
            // Unknown methods are answered by the proxy as before.
            _ => return Ok((req, None)),
        },
        Protocol::Http => {
            let method = if websocket::is_upgrade(req.method(), req.headers()) {
                websocket::route_method(req.uri().query())
            } else {
                req.method().clone()
            };
            match snapshot.table.find(&method, path) {
                Lookup::Found(route, _) => (
                    route.backend,
                    route.grpc_path.trim_start_matches('/').to_string(),
                ),
                _ => return Ok((req, None)),
            }
        }
    };
    let Some(policy) = snapshot.backends.get(index).and_then(|b| b.edge.clone()) else {
        return Ok((req, None));
    };
    let carrier = match protocol {
        Protocol::Http => Carrier::Transcoded,
        Protocol::Grpc | Protocol::GrpcWeb => Carrier::Grpc,
    };
    let (mut parts, body) = req.into_parts();
    match policy.admit(&mut parts, &method, peer.map(|p| p.ip()), carrier) {
        Ok(guard) => Ok((Request::from_parts(parts, body), guard)),
        Err(rejection) => Err(Refused {
            rejection,
            web_text: grpc_web_text(&parts.headers),
        }),
    }
}

/// A refusal, not yet written: each protocol renders it in its own form
/// ([`Refused::respond`] for HTTP/JSON, native gRPC and gRPC-Web; Connect
/// writes its own error from [`Refused::rejection`]).
pub(crate) struct Refused {
    /// What the policy said (code, HTTP status, message, headers).
    pub(crate) rejection: Rejection,
    /// The request asked for base64 gRPC-Web (`application/grpc-web-text`).
    web_text: bool,
}

impl Refused {
    /// The refusal in `protocol`'s form.
    pub(crate) fn respond(&self, protocol: Protocol) -> Response<Body> {
        refusal(&self.rejection, protocol, self.web_text)
    }
}

/// Whether the request's content type is gRPC-Web's base64 text flavour.
fn grpc_web_text(headers: &http::HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("grpc-web-text"))
}

/// A refusal in the request's protocol.
fn refusal(r: &Rejection, protocol: Protocol, web_text: bool) -> Response<Body> {
    let mut response = match protocol {
        Protocol::Http => {
            let body =
                transcode::status_to_json(None, &Default::default(), r.code, &r.message, None);
            json_response(r.http, body)
        }
        Protocol::Grpc | Protocol::GrpcWeb => {
            let status = tonic::Status::new(tonic::Code::from(r.code), r.message.clone());
            let mut response = crate::grpc::trailers_only(status);
            if protocol == Protocol::GrpcWeb {
                // The client's own gRPC-Web flavour (binary or base64 text).
                let ct = if web_text {
                    "application/grpc-web-text+proto"
                } else {
                    "application/grpc-web+proto"
                };
                response
                    .headers_mut()
                    .insert(CONTENT_TYPE, HeaderValue::from_static(ct));
            }
            response
        }
    };
    for (name, value) in &r.headers {
        response.headers_mut().insert(name.clone(), value.clone());
    }
    response
}

/// Keeps `guard` alive until `response`'s body has ended (or is dropped).
pub(crate) fn hold(response: Response<Body>, guard: Guard) -> Response<Body> {
    response.map(|body| crate::body::holding(body, guard))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::{RETRY_AFTER, WWW_AUTHENTICATE};
    use http_body_util::BodyExt;

    fn rejection() -> Rejection {
        Rejection {
            reason: "auth",
            code: 16,
            http: 401,
            message: "token expired".into(),
            headers: vec![(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"x\""),
            )],
        }
    }

    #[tokio::test]
    async fn http_clients_get_a_status_body() {
        let r = refusal(&rejection(), Protocol::Http, false);
        assert_eq!(r.status(), 401);
        assert_eq!(r.headers()[WWW_AUTHENTICATE], "Bearer realm=\"x\"");
        let body = r.into_body().collect().await.unwrap().to_bytes();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["code"], 16);
        assert_eq!(v["message"], "token expired");
    }

    #[test]
    fn grpc_clients_get_trailers_only_in_their_flavour() {
        let mut r = rejection();
        r.code = 8;
        r.http = 429;
        r.headers = vec![(RETRY_AFTER, HeaderValue::from_static("3"))];
        let g = refusal(&r, Protocol::Grpc, false);
        assert_eq!(g.status(), 200);
        assert_eq!(g.headers()["grpc-status"], "8");
        assert_eq!(g.headers()["content-type"], "application/grpc");
        assert_eq!(g.headers()[RETRY_AFTER], "3");
        let mut h = http::HeaderMap::new();
        h.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/grpc-web-text"),
        );
        let w = refusal(&r, Protocol::GrpcWeb, grpc_web_text(&h));
        assert_eq!(
            w.headers()["content-type"],
            "application/grpc-web-text+proto"
        );
        h.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/grpc-web+proto"),
        );
        let w = refusal(&r, Protocol::GrpcWeb, grpc_web_text(&h));
        assert_eq!(w.headers()["content-type"], "application/grpc-web+proto");
        assert_eq!(w.headers()["grpc-status"], "8");
    }
}
