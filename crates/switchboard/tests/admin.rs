//! The admin listener's OpenAPI endpoint: `?backend=` is percent-decoded and
//! must name a backend of the live table (an unknown name is a 404 and caches
//! nothing, so distinct query strings cannot grow memory).

mod support;

use support::{Backend, Gateway, backend_yaml, get};
use switchboard_examples::Reflection;

#[tokio::test]
async fn openapi_backend_parameter_is_decoded_and_validated() {
    let greeter = Backend::greeter(Reflection::V1AndV1Alpha).await;
    let gw = Gateway::start(&backend_yaml("greeter", greeter.addr, "")).await;

    // `gr%65eter` is `greeter`: the same document as the plain name.
    let plain = get(&gw.admin_url("/openapi.json?backend=greeter"))
        .await
        .unwrap();
    let encoded = get(&gw.admin_url("/openapi.json?backend=gr%65eter"))
        .await
        .unwrap();
    assert_eq!(encoded.status, 200, "{}", encoded.body);
    assert!(
        encoded.json()["paths"]
            .get("/helloworld.Greeter/SayHello")
            .is_some(),
        "{}",
        encoded.body
    );
    assert_eq!(plain.json(), encoded.json());

    for unknown in ["nope", "greeter%20", "%ff"] {
        let r = get(&gw.admin_url(&format!("/openapi.json?backend={unknown}")))
            .await
            .unwrap();
        assert!(
            r.status == 404 || r.status == 400,
            "{unknown}: {} {}",
            r.status,
            r.body
        );
        assert!(r.json()["error"].is_string(), "{}", r.body);
    }
}
