//! Fixed inputs shared by the fuzz targets: the example backends' descriptor
//! pool and method plans built from it the way the route table builds them.

#![allow(dead_code)]

use std::sync::OnceLock;

use prost_reflect::{DescriptorPool, MethodDescriptor};
use switchboard_transcode::MethodPlan;

/// The examples' pool (Echo, Greeter, Library), decoded once per process.
pub fn pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        DescriptorPool::decode(switchboard_examples::DESCRIPTOR_SET).expect("examples' pool")
    })
}

pub fn method(service: &str, name: &str) -> MethodDescriptor {
    pool()
        .get_service_by_name(service)
        .expect("service")
        .methods()
        .find(|m| m.name() == name)
        .expect("method")
}

/// Plans covering every body shape: the whole message (Echo, every field kind),
/// a body field with a nested path variable and PATCH FieldMask filling
/// (UpdateBook), no body with path and query (ListBooks), and raw HttpBody.
pub fn plans() -> &'static [MethodPlan] {
    static PLANS: OnceLock<Vec<MethodPlan>> = OnceLock::new();
    PLANS.get_or_init(|| {
        let echo = "switchboard.testing.v1.Echo";
        let library = "example.library.v1.LibraryService";
        vec![
            MethodPlan::for_binding(&method(echo, "Echo"), "POST", "*", &[], "").unwrap(),
            MethodPlan::for_binding(
                &method(library, "UpdateBook"),
                "PATCH",
                "book",
                &["book.name"],
                "",
            )
            .unwrap(),
            MethodPlan::for_binding(&method(library, "ListBooks"), "GET", "", &["parent"], "")
                .unwrap(),
            MethodPlan::for_binding(&method(echo, "Echo"), "GET", "", &["nested.label"], "")
                .unwrap(),
            MethodPlan::for_binding(&method(echo, "Upload"), "POST", "*", &[], "").unwrap(),
        ]
    })
}
