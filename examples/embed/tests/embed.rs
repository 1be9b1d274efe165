//! The embed example end to end: a real tonic backend (with reflection), the
//! gateway built in code and mounted in the axum app, the app served on a
//! real socket, and plain HTTP requests. It checks the three things the app
//! adds or mounts: its own route, its own layer (the API-key check, which
//! must stop a request before the gateway), and the gateway under `/api`
//! (unary, a server stream, a gateway error, the client address forwarded).

use std::net::SocketAddr;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use switchboard_examples::BackendOptions;
use switchboard_gateway::Switchboard;
use tokio::net::TcpListener;

struct Reply {
    status: StatusCode,
    content_type: String,
    body: String,
}

impl Reply {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

async fn call(method: Method, url: &str, key: Option<&str>, body: &str) -> Reply {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut req = Request::builder().method(method).uri(url);
    if let Some(key) = key {
        req = req.header("x-api-key", key);
    }
    let req = req.body(Full::new(Bytes::from(body.to_owned()))).unwrap();
    let response = client.request(req).await.expect("request");
    let status = response.status();
    let content_type = response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        content_type,
        body: String::from_utf8(body.to_vec()).unwrap(),
    }
}

#[tokio::test]
async fn app_route_layer_and_mounted_gateway() {
    // The backend: helloworld.Greeter and the Echo test service.
    let backend = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let backend_addr = backend.local_addr().unwrap();
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(switchboard_examples::serve_greeter(
        backend,
        BackendOptions::default(),
        async move {
            let _ = stopped.wait_for(|s| *s).await;
        },
    ));

    // The gateway, with its backend added in code, mounted in the app.
    let gateway = Switchboard::builder()
        .backend("greeter", [backend_addr.to_string()])
        .build()
        .await
        .expect("gateway builds");
    assert_eq!(
        gateway.status().backends[0].error,
        None,
        "{:?}",
        gateway.status()
    );
    let app = switchboard_embed_example::app(gateway.clone(), "k3y");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
    let url = |path: &str| format!("http://{addr}{path}");

    // 1. The app's own route: open, and not the gateway's.
    let r = call(Method::GET, &url("/hello"), None, "").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, "hello from the app\n");

    // 2. The app's layer: no key or a wrong one never reaches the gateway.
    let hello = r#"{"name":"embed"}"#;
    for key in [None, Some("wrong")] {
        let r = call(
            Method::POST,
            &url("/api/helloworld.Greeter/SayHello"),
            key,
            hello,
        )
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
        assert_eq!(r.json()["code"], 16);
        assert_eq!(r.json()["message"], "missing or wrong x-api-key");
    }

    // 3. The gateway under /api: unary over the default route.
    let key = Some("k3y");
    let r = call(
        Method::POST,
        &url("/api/helloworld.Greeter/SayHello"),
        key,
        hello,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.content_type, "application/json");
    assert_eq!(r.json(), serde_json::json!({"message": "Hello, embed!"}));

    // An annotated route; the client's address reached the backend as
    // X-Forwarded-For (the app copies axum's ConnectInfo into PeerAddr).
    let r = call(
        Method::POST,
        &url("/api/v1/echo"),
        key,
        r#"{"stringValue":"hi"}"#,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let v = r.json();
    assert_eq!(v["request"]["stringValue"], "hi");
    assert_eq!(v["metadata"]["x-forwarded-for"], "127.0.0.1");

    // A server stream, as grpc-gateway's newline-delimited results.
    let r = call(
        Method::POST,
        &url("/api/helloworld.Greeter/SayHelloStream"),
        key,
        r#"{"name":"s","count":2}"#,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let lines: Vec<serde_json::Value> = r
        .body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines,
        [
            serde_json::json!({"result": {"message": "Hello, s! (1)"}}),
            serde_json::json!({"result": {"message": "Hello, s! (2)"}}),
        ]
    );

    // The gateway's own errors come through untouched: an unknown path is
    // grpc-gateway's 404 with a google.rpc.Status body (code 5).
    let r = call(Method::GET, &url("/api/v1/nothing/here"), key, "").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    assert_eq!(r.json()["code"], 5);

    // The handle: a reload over the same value changes nothing; shutdown
    // turns readiness off and stops the reload loop.
    let outcome = gateway.reload().await.unwrap();
    assert_eq!(outcome.result, switchboard_gateway::ReloadResult::Unchanged);
    assert!(gateway.is_ready());
    gateway.shutdown().await;
    assert!(!gateway.is_ready());
    assert!(matches!(
        gateway.reload().await,
        Err(switchboard_gateway::Error::Stopped)
    ));

    server.abort();
    let _ = stop.send(true);
}
