//! The gateway against a backend no one here wrote: Python grpcio with
//! grpcio-reflection (v1alpha only) and protoc-generated descriptors carrying
//! google.api.http annotations from googleapis-common-protos.

use http::Method;
use serde_json::json;
use switchboard_tests::{Gateway, PythonBackend, backend_yaml, get, post, request};

#[tokio::test]
async fn grpcio_backend_through_the_gateway() {
    let Some(py) = PythonBackend::start() else {
        return;
    };
    let gw = Gateway::start(&backend_yaml("inventory", py.addr, "")).await;

    let status = gw.status().await;
    let backend = &status["backends"][0];
    assert_eq!(backend["state"], "ok", "{status}");
    assert_eq!(
        backend["source"], "reflection.v1alpha",
        "v1 is not spoken by grpcio"
    );
    assert_eq!(
        backend["services"],
        json!(["py.inventory.v1.InventoryService"])
    );

    // google.api.http GET with a path variable; double and repeated fields.
    let r = get(&gw.url("/v1/items/apple")).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({"id": "apple", "name": "Apple", "quantity": 10, "price": 0.5, "tags": ["fruit"]})
    );

    // Default route for the same method.
    let r = post(
        &gw.url("/py.inventory.v1.InventoryService/GetItem"),
        r#"{"id":"pear"}"#,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["name"], "Pear");

    // body: "item".
    let r = post(
        &gw.url("/v1/items"),
        r#"{"id":"saw","name":"Saw","quantity":2}"#,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["id"], "saw");
    assert_eq!(r.json()["price"], 0.0, "unpopulated fields are emitted");
    let r = post(&gw.url("/v1/items"), r#"{"id":"saw"}"#).await.unwrap();
    assert_eq!(r.status, 409, "ALREADY_EXISTS: {}", r.body);

    // Custom verb and an error with details decoded through the discovered pool.
    let r = post(&gw.url("/v1/items/hammer:reserve"), r#"{"quantity":5}"#)
        .await
        .unwrap();
    assert_eq!(r.status, 400, "FAILED_PRECONDITION: {}", r.body);
    assert_eq!(
        r.json(),
        json!({
            "code": 9,
            "message": "only 1 of 'hammer' in stock",
            "details": [{
                "@type": "type.googleapis.com/py.inventory.v1.InventoryError",
                "reason": "INSUFFICIENT_STOCK",
                "itemId": "hammer",
                "available": 1
            }]
        })
    );

    // Not found from grpcio.
    let r = get(&gw.url("/v1/items/nope")).await.unwrap();
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["code"], 5);
    assert_eq!(r.json()["message"], "item 'nope' not found");

    // Server streaming from grpcio, newline-delimited.
    let r = request(Method::GET, &gw.url("/v1/items:watch?tag=fruit"), &[], None)
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let ids: Vec<String> = r
        .body
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["result"]["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(ids, ["apple", "pear"]);
}
