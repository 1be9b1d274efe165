//! The library's contract against real backends: building from a config
//! value, a file and bad input; the service called directly with a body type
//! that is not hyper's; a config replaced in code; the gateway's and the
//! admin endpoints' own listeners; shutdown.

use std::net::SocketAddr;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use switchboard_examples::BackendOptions;
use switchboard_gateway::{Backend, BackendState, Config, Error, ReloadResult, Switchboard};
use tokio::net::TcpListener;
use tower::ServiceExt;

/// A greeter backend on loopback; stops when the sender drops.
async fn greeter() -> (SocketAddr, tokio::sync::watch::Sender<bool>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(switchboard_examples::serve_greeter(
        listener,
        BackendOptions::default(),
        async move {
            let _ = stopped.wait_for(|s| *s).await;
        },
    ));
    (addr, stop)
}

/// One request through the service itself (no socket), with a `Full` body.
async fn oneshot<S>(service: S, method: Method, path: &str, body: &str) -> (StatusCode, String)
where
    S: tower::Service<Request<Full<Bytes>>, Response = http::Response<switchboard_gateway::Body>>,
    S::Error: std::fmt::Debug,
{
    let req = Request::builder()
        .method(method)
        .uri(path)
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap();
    let response = service.oneshot(req).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn a_config_value_is_served_and_replaced_in_code() {
    let (addr, _stop) = greeter().await;
    let mut config = Config::default();
    config
        .backends
        .push(Backend::new("greeter", [addr.to_string()]));
    let gateway = Switchboard::builder()
        .config(config.clone())
        .build()
        .await
        .unwrap();
    let status = gateway.status();
    assert_eq!(status.version, 1);
    assert_eq!(status.backends[0].state, BackendState::Ok);
    assert_eq!(status.config_path, "<in-code config>");
    assert!(
        gateway
            .routes()
            .iter()
            .any(|r| r.grpc_method == "/helloworld.Greeter/SayHello" && r.method == "POST")
    );

    let (code, body) = oneshot(
        gateway.clone(),
        Method::POST,
        "/helloworld.Greeter/SayHello",
        r#"{"name":"lib"}"#,
    )
    .await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(body, r#"{"message":"Hello, lib!"}"#);

    // Only the Echo service: SayHello's route goes, the version moves.
    config.backends[0].services.include = vec!["switchboard.testing.v1.Echo".into()];
    let outcome = gateway.replace_config(config.clone()).await.unwrap();
    assert_eq!(outcome.result, ReloadResult::Applied, "{outcome:?}");
    assert_eq!(outcome.version, 2);
    let (code, body) = oneshot(
        gateway.clone(),
        Method::POST,
        "/helloworld.Greeter/SayHello",
        r#"{"name":"lib"}"#,
    )
    .await;
    assert_eq!(code, StatusCode::NOT_FOUND, "{body}");

    // A bad value is rejected and the live table stays.
    config
        .backends
        .push(Backend::new("greeter", ["127.0.0.1:1"]));
    let outcome = gateway.replace_config(config).await.unwrap();
    assert_eq!(outcome.result, ReloadResult::Rejected);
    assert!(
        outcome.errors[0].contains("duplicate backend name `greeter`"),
        "{outcome:?}"
    );
    assert_eq!(gateway.status().version, 2);
    let (code, _) = oneshot(gateway.clone(), Method::POST, "/v1/echo", "{}").await;
    assert_eq!(code, StatusCode::OK);
    gateway.shutdown().await;
}

#[tokio::test]
async fn bad_input_fails_the_build_with_every_error() {
    let err = Switchboard::builder()
        .backend("a b", ["no-port"])
        .build()
        .await
        .unwrap_err();
    let Error::Config(errors) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        err.to_string().starts_with("2 error(s) in the config"),
        "{err}"
    );

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sb.yaml");
    std::fs::write(&file, "listen: nowhere\nbogus: 1\n").unwrap();
    let err = Switchboard::builder()
        .config_file(&file)
        .build()
        .await
        .unwrap_err();
    let Error::Config(errors) = &err else {
        panic!("{err:?}")
    };
    let rendered: Vec<String> = errors.iter().map(|e| e.render()).collect();
    assert_eq!(rendered.len(), 2, "{rendered:?}");
    assert!(
        rendered[0].contains("sb.yaml:1:9: invalid listen address `nowhere`"),
        "{rendered:?}"
    );
    assert!(
        rendered[1].contains("sb.yaml:2:1: unknown key `bogus`"),
        "{rendered:?}"
    );

    let err = Switchboard::builder()
        .config_file(&file)
        .config(Config::default())
        .build()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Usage(_)), "{err:?}");
    let err = Switchboard::builder()
        .config_file(&file)
        .backend("x", ["127.0.0.1:1"])
        .build()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Usage(_)), "{err:?}");
}

#[tokio::test]
async fn a_file_config_on_the_gateways_own_listeners() {
    let (addr, _stop) = greeter().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sb.yaml");
    std::fs::write(
        &file,
        format!("backends:\n  - name: greeter\n    endpoints: [\"{addr}\"]\n"),
    )
    .unwrap();
    let gateway = Switchboard::builder()
        .config_file(&file)
        .watch_config(false)
        .build()
        .await
        .unwrap();
    assert!(matches!(
        gateway.replace_config(Config::default()).await,
        Err(Error::Usage(_))
    ));
    let public = gateway
        .serve_on(TcpListener::bind("127.0.0.1:0").await.unwrap())
        .unwrap();
    let admin = gateway
        .serve_admin_on(TcpListener::bind("127.0.0.1:0").await.unwrap())
        .unwrap();

    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    let send = |method: Method, url: String, body: &'static str| {
        let client = client.clone();
        async move {
            let req = Request::builder()
                .method(method)
                .uri(url)
                .body(Full::new(Bytes::from_static(body.as_bytes())))
                .unwrap();
            let r = client.request(req).await.unwrap();
            let status = r.status();
            let body = r.into_body().collect().await.unwrap().to_bytes();
            (status, String::from_utf8(body.to_vec()).unwrap())
        }
    };
    let (code, body) = send(
        Method::POST,
        format!("http://{public}/helloworld.Greeter/SayHello"),
        r#"{"name":"file"}"#,
    )
    .await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(body, r#"{"message":"Hello, file!"}"#);
    let (code, body) = send(Method::GET, format!("http://{admin}/readyz"), "").await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(body, r#"{"status":"ready","version":1}"#);

    // The admin endpoints as a service too, and a reload through them.
    let (code, body) = oneshot(gateway.admin(), Method::POST, "/reload", "").await;
    assert_eq!(code, StatusCode::OK, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["result"], "unchanged");

    // Shutdown: the public listener stops accepting, readiness is off.
    gateway.shutdown().await;
    assert!(!gateway.is_ready());
    assert!(tokio::net::TcpStream::connect(public).await.is_err());
    let (code, body) = oneshot(gateway.admin(), Method::GET, "/readyz", "").await;
    assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE, "{body}");
}
