//! Native gRPC pass-through: forwarding a client's own gRPC request (headers,
//! length-prefixed frames, trailers) to one endpoint of the backend, untouched.
//!
//! The serve stage proxies `application/grpc` and (translated) gRPC-Web requests
//! this way instead of decoding messages: a proxy that never parses frames works
//! for every call shape (bidi included), every compression and every message
//! size, and cannot get flow control or half-close wrong. The request rides the
//! endpoint's connection ([`crate::conn`]), which rewrites only the URI's scheme
//! and authority to the endpoint's.
//!
//! The endpoint is picked and accounted for exactly as for transcoded calls (see
//! [`Upstream::start`]): in-flight counts, latency and outlier detection cover the
//! call up to the response headers. Forwarded calls are never retried: the
//! request body is streamed, so it cannot be replayed.

use std::sync::Arc;
use std::time::Instant;

use tonic::Status;
use tonic::body::Body;

use super::Upstream;
use crate::conn::send_streaming;
use crate::status::{http_to_code, unreachable};

impl Upstream {
    /// Sends `request` (its URI holding only the path, `/package.Service/Method`)
    /// to the endpoint chosen for the next call and returns the backend's response
    /// head with its body still streaming.
    ///
    /// `Err` when the backend never answered (connection refused or reset, no
    /// endpoint) or answered with a non-gRPC HTTP error, mapped as gRPC clients map it. A gRPC error from the
    /// backend is an `Ok` response carrying `grpc-status`, for the caller to pass
    /// on as it is.
    pub async fn forward(
        &self,
        mut request: http::Request<Body>,
    ) -> Result<http::Response<Body>, Status> {
        self.shared
            .budget
            .deposit(&self.config.retry, Instant::now());
        let ep = match self.choose(request.uri().path(), None, None) {
            Ok(ep) => ep,
            Err(status) => {
                super::record_code(tonic::Code::Unavailable);
                return Err(status);
            }
        };
        let mut attempt = self.begin(ep);
        attempt.stamp(request.headers_mut());
        // A gRPC request declares no length: count what is forwarded.
        if let Some(call) = switchboard_observe::current().filter(|c| c.detailed)
            && !request.headers().contains_key(http::header::CONTENT_LENGTH)
        {
            request = request.map(|body| Body::new(crate::code_watch::Counted::new(body, call)));
        }
        let unavailable = |e: &dyn std::error::Error| {
            let mut message = format!(
                "backend {} endpoint {} unavailable: {e}",
                self.name, attempt.ep.addr
            );
            let mut source = e.source();
            while let Some(s) = source {
                message.push_str(&format!(": {s}"));
                source = s.source();
            }
            unreachable(message, Arc::new(std::io::Error::other(e.to_string())))
        };
        let result = send_streaming(&attempt.ep.conn, request)
            .await
            .map(|response| response.map(Body::new))
            .map_err(|e| unavailable(&*e));
        let result = result.and_then(|response| {
            let grpc = response.headers().contains_key("grpc-status");
            if response.status() == http::StatusCode::OK || grpc {
                return Ok(response);
            }
            // Not a gRPC answer (a plain HTTP server or proxy behind the endpoint).
            Err(Status::new(
                http_to_code(response.status()),
                format!(
                    "backend {} endpoint {} answered HTTP {}",
                    self.name,
                    attempt.ep.addr,
                    response.status()
                ),
            ))
        });
        // What the balancer learns: a trailers-only error counts like the same
        // error from a transcoded call.
        let outcome = match &result {
            Ok(response) => Status::from_header_map(response.headers()),
            Err(status) => Some(status.clone()),
        };
        self.finish(&mut attempt, outcome.as_ref().map_or(Ok(()), Err));
        // The call's code: a trailers-only answer's now, else its trailers'.
        match (&result, switchboard_observe::current()) {
            (Err(status), _) => super::record_code(status.code()),
            (Ok(_), None) => {}
            (Ok(_), Some(call)) => {
                if let Some(status) = &outcome {
                    call.set_grpc_code(status.code() as i32);
                }
            }
        }
        let call = switchboard_observe::current();
        match (result, call) {
            (Ok(response), Some(call)) if outcome.is_none() => {
                Ok(response.map(|body| Body::new(crate::code_watch::CodeWatch::new(body, call))))
            }
            (result, _) => result,
        }
    }
}
