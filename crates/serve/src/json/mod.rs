//! HTTP/JSON: requests matched against the google.api.http route table and
//! transcoded to a gRPC call, one file per call shape.
//!
//! [`dispatch`] matches the route and picks the call shape; each shape reads
//! messages from the client and writes them back its own way.

mod client_stream;
mod dispatch;
mod respond;
pub(crate) mod server_stream;
pub(crate) mod sse;
pub(crate) mod websocket;

use dispatch::Early;
use respond::status_response;
