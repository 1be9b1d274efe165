//! Behaviour of the example backends that gateway tests rely on, checked with the
//! generated tonic clients over real loopback connections.

use std::net::SocketAddr;
use std::time::{Duration, Instant};
use switchboard_examples::RpcStatus;

use prost::Message;
use switchboard_examples::pb::example::library::v1 as library;
use switchboard_examples::pb::helloworld;
use switchboard_examples::pb::switchboard::testing::v1 as testing;
use switchboard_examples::{BackendOptions, serve_greeter, serve_library};
use tokio::sync::oneshot;
use tonic::transport::Channel;

/// Starts a backend on 127.0.0.1:0; it stops when the returned sender drops.
async fn start(library: bool) -> (Channel, oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let shutdown = async {
        let _ = stopped.await;
    };
    let opts = BackendOptions::default();
    tokio::spawn(async move {
        if library {
            serve_library(listener, opts, shutdown).await.unwrap();
        } else {
            serve_greeter(listener, opts, shutdown).await.unwrap();
        }
    });
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    (channel, stop)
}

#[tokio::test]
async fn echo_returns_request_metadata_header_and_trailer() {
    let (channel, _stop) = start(false).await;
    let mut client = testing::echo_client::EchoClient::new(channel);
    let mut request = tonic::Request::new(testing::EchoRequest {
        string_value: "hi".into(),
        int64_value: -7,
        repeated_string: vec!["a".into(), "b".into()],
        optional_int32: Some(0),
        choice: Some(testing::echo_request::Choice::ChoiceNumber(3)),
        ..Default::default()
    });
    request
        .metadata_mut()
        .insert("x-custom", "Value".parse().unwrap());
    let response = client.echo(request).await.expect("echo");
    assert_eq!(response.metadata().get("x-echo").unwrap(), "1");
    assert_eq!(response.metadata().get("x-echo-trailer").unwrap(), "1");
    let body = response.into_inner();
    assert_eq!(
        body.metadata.get("x-custom").map(String::as_str),
        Some("Value")
    );
    let echoed = body.request.unwrap();
    assert_eq!(echoed.string_value, "hi");
    assert_eq!(echoed.optional_int32, Some(0));
    assert_eq!(echoed.repeated_string, ["a", "b"]);
}

#[tokio::test]
async fn echo_fails_with_status_and_error_detail() {
    let (channel, _stop) = start(false).await;
    let mut client = testing::echo_client::EchoClient::new(channel);
    let status = client
        .echo(testing::EchoRequest {
            fail_code: tonic::Code::FailedPrecondition as i32,
            fail_message: "nope".into(),
            ..Default::default()
        })
        .await
        .expect_err("requested failure");
    assert_eq!(status.code(), tonic::Code::FailedPrecondition);
    assert_eq!(status.message(), "nope");
    let details = RpcStatus::decode(status.details()).expect("google.rpc.Status");
    assert_eq!(details.code, tonic::Code::FailedPrecondition as i32);
    assert_eq!(
        details.details[0].type_url,
        "type.googleapis.com/switchboard.testing.v1.ErrorDetail"
    );
    let detail = testing::ErrorDetail::decode(details.details[0].value.as_slice()).unwrap();
    assert_eq!(detail.reason, "REQUESTED_FAILURE");
}

#[tokio::test]
async fn echo_delay_is_cut_short_by_the_deadline() {
    let (channel, _stop) = start(false).await;
    let mut client = testing::echo_client::EchoClient::new(channel);
    let mut request = tonic::Request::new(testing::EchoRequest {
        delay_ms: 10_000,
        ..Default::default()
    });
    request.set_timeout(Duration::from_millis(200));
    let started = Instant::now();
    let status = client.echo(request).await.expect_err("deadline");
    // tonic's server enforces `grpc-timeout` by dropping the handler and answers
    // CANCELLED ("Timeout expired"), not DEADLINE_EXCEEDED.
    assert!(
        matches!(
            status.code(),
            tonic::Code::Cancelled | tonic::Code::DeadlineExceeded
        ),
        "{status:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn streaming_methods_work() {
    let (channel, _stop) = start(false).await;
    let mut echo = testing::echo_client::EchoClient::new(channel.clone());
    let mut stream = echo
        .echo_stream(testing::EchoStreamRequest {
            count: 3,
            fail_code: tonic::Code::Aborted as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut received = 0;
    let end = loop {
        match stream.message().await {
            Ok(Some(_)) => received += 1,
            Ok(None) => break None,
            Err(status) => break Some(status.code()),
        }
    };
    assert_eq!((received, end), (3, Some(tonic::Code::Aborted)));

    let requests = tokio_stream::iter(["x", "y"].map(|s| testing::EchoRequest {
        string_value: s.into(),
        ..Default::default()
    }));
    let collected = echo.collect(requests).await.unwrap().into_inner();
    assert_eq!(collected.count, 2);

    let mut greeter = helloworld::greeter_client::GreeterClient::new(channel);
    let mut hellos = greeter
        .say_hello_stream(helloworld::HelloStreamRequest {
            name: "Ada".into(),
            count: 2,
            interval_ms: 1,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        hellos.message().await.unwrap().unwrap().message,
        "Hello, Ada! (1)"
    );
    assert!(hellos.message().await.unwrap().is_some());
    assert!(hellos.message().await.unwrap().is_none());
}

#[tokio::test]
async fn library_crud() {
    let (channel, _stop) = start(true).await;
    let mut client = library::library_service_client::LibraryServiceClient::new(channel);
    let book = client
        .get_book(library::GetBookRequest {
            name: "shelves/1/books/1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(book.title, "The Left Hand of Darkness");

    let missing = client
        .get_book(library::GetBookRequest {
            name: "shelves/1/books/99".into(),
        })
        .await
        .expect_err("missing");
    assert_eq!(missing.code(), tonic::Code::NotFound);
    assert!(missing.message().contains("shelves/1/books/99"));

    let created = client
        .create_book(library::CreateBookRequest {
            parent: "shelves/1".into(),
            book: Some(library::Book {
                title: "New".into(),
                ..Default::default()
            }),
            book_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(created.name, "shelves/1/books/3");

    let updated = client
        .update_book(library::UpdateBookRequest {
            book: Some(library::Book {
                name: created.name.clone(),
                title: "Renamed".into(),
                author: "ignored".into(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["title".into()],
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (updated.title.as_str(), updated.author.as_str()),
        ("Renamed", "")
    );

    let listed = client
        .list_books(library::ListBooksRequest {
            parent: "shelves/1".into(),
            page_size: 2,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.books.len(), 2);
    assert_eq!(listed.next_page_token, "2");

    client
        .delete_book(library::DeleteBookRequest {
            name: created.name.clone(),
        })
        .await
        .unwrap();
    let gone = client
        .archive_book(library::ArchiveBookRequest {
            name: created.name,
            reason: String::new(),
        })
        .await
        .expect_err("deleted");
    assert_eq!(gone.code(), tonic::Code::NotFound);
}
