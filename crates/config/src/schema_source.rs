//! Where a discovered schema came from: a typed label that discovery sets and
//! `/status` and `switchboard check` report. It lives here, beside
//! [`DescriptorSource`](crate::DescriptorSource) (what the config asks for),
//! because both discovery and the live status depend on this crate and on
//! nothing else in common.

use serde::Serialize;

/// Which source yielded a backend's schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum SchemaSource {
    /// Server reflection, `grpc.reflection.v1`.
    #[serde(rename = "reflection.v1")]
    ReflectionV1,
    /// Server reflection, `grpc.reflection.v1alpha` (older servers).
    #[serde(rename = "reflection.v1alpha")]
    ReflectionV1Alpha,
    /// A compiled `FileDescriptorSet` file (`descriptors.descriptor_set`).
    #[serde(rename = "descriptor_set")]
    DescriptorSet,
    /// `.proto` files compiled at load time (`descriptors.protos`).
    #[serde(rename = "protos")]
    Protos,
}

impl SchemaSource {
    /// The label in logs, JSON and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            SchemaSource::ReflectionV1 => "reflection.v1",
            SchemaSource::ReflectionV1Alpha => "reflection.v1alpha",
            SchemaSource::DescriptorSet => "descriptor_set",
            SchemaSource::Protos => "protos",
        }
    }
}

impl std::fmt::Display for SchemaSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
