//! `helloworld.Greeter`: the smallest useful backend, for the demo and for
//! benchmarks of the default (unannotated) route.

use std::pin::Pin;
use std::time::Duration;

use futures_util::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::pb::helloworld::greeter_server::Greeter;
use crate::pb::helloworld::{HelloReply, HelloRequest, HelloStreamRequest};

/// Upper bound on `SayHelloStream`'s `count`, so a typo cannot pin a task for hours.
const MAX_STREAM_COUNT: i32 = 10_000;

/// The Greeter implementation (stateless).
#[derive(Debug, Clone, Copy, Default)]
pub struct GreeterService;

fn greeting(name: &str) -> String {
    let name = if name.is_empty() { "world" } else { name };
    format!("Hello, {name}!")
}

#[tonic::async_trait]
impl Greeter for GreeterService {
    async fn say_hello(
        &self,
        request: Request<HelloRequest>,
    ) -> Result<Response<HelloReply>, Status> {
        Ok(Response::new(HelloReply {
            message: greeting(&request.get_ref().name),
        }))
    }

    type SayHelloStreamStream =
        Pin<Box<dyn Stream<Item = Result<HelloReply, Status>> + Send + 'static>>;

    async fn say_hello_stream(
        &self,
        request: Request<HelloStreamRequest>,
    ) -> Result<Response<Self::SayHelloStreamStream>, Status> {
        let req = request.into_inner();
        if !(0..=MAX_STREAM_COUNT).contains(&req.count) {
            return Err(Status::invalid_argument(format!(
                "count must be between 0 and {MAX_STREAM_COUNT}, got {}",
                req.count
            )));
        }
        let interval = Duration::from_millis(req.interval_ms.max(0) as u64);
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::spawn(async move {
            for i in 0..req.count {
                if i > 0 && !interval.is_zero() {
                    tokio::time::sleep(interval).await;
                }
                let reply = HelloReply {
                    message: format!("{} ({})", greeting(&req.name), i + 1),
                };
                // The receiver is gone when the client cancelled: stop.
                if tx.send(Ok(reply)).await.is_err() {
                    break;
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}
