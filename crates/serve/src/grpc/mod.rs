//! Native gRPC and gRPC-Web: the call is proxied to the backend as it is, by
//! its `/package.Service/Method` path, without transcoding.

mod pass_body;
mod passthrough;
mod reflection;
pub(crate) mod web;

pub(crate) use passthrough::{Protocol, Proxy, trailers_only, unknown};
