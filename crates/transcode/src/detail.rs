//! Error details one by one, for protocols whose error bodies list each detail
//! with its own fields instead of printing `google.rpc.Status` as a whole
//! (Connect: `{"type", "value", "debug"}` per detail, see the serve stage's
//! `connect` module).
//!
//! The detail's JSON (`debug`) goes through the same writer as responses, so a
//! detail prints exactly as it does inside a grpc-gateway error body.

use bytes::Bytes;
use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage};

use crate::JsonOptions;
use crate::status::RpcStatus;
use crate::writer::Writer;

/// One `google.protobuf.Any` of a `google.rpc.Status`'s details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusDetail {
    /// The Any's `type_url` as sent (`type.googleapis.com/pkg.Type`).
    pub type_url: String,
    /// The detail message's encoded bytes.
    pub value: Bytes,
}

impl StatusDetail {
    /// The fully-qualified message name: the type URL after its last `/`.
    pub fn type_name(&self) -> &str {
        self.type_url
            .rsplit_once('/')
            .map_or(self.type_url.as_str(), |(_, n)| n)
    }
}

/// The details of an encoded `google.rpc.Status` (the `grpc-status-details-bin`
/// value); none when it does not decode.
pub fn status_details(details_bin: &[u8]) -> Vec<StatusDetail> {
    RpcStatus::decode(details_bin)
        .map(|s| {
            s.details
                .into_iter()
                .map(|any| StatusDetail {
                    type_url: any.type_url,
                    value: any.value.into(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A message of type `type_name`, given its encoded bytes, as proto3 JSON;
/// `None` when the pool does not know the type or the bytes are not one.
pub fn message_to_json(
    pool: &DescriptorPool,
    opts: &JsonOptions,
    type_name: &str,
    bytes: &[u8],
) -> Option<Vec<u8>> {
    let desc = pool.get_message_by_name(type_name)?;
    let msg = DynamicMessage::decode(desc, bytes).ok()?;
    let mut w = Writer::new(opts, bytes.len() * 2 + 16);
    w.message(&msg).ok()?;
    Some(w.out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_decode_and_print() {
        let status = RpcStatus {
            code: 5,
            message: "gone".into(),
            details: vec![prost_types::Any {
                type_url: "type.googleapis.com/google.protobuf.Duration".into(),
                value: prost_types::Duration {
                    seconds: 3,
                    nanos: 0,
                }
                .encode_to_vec(),
            }],
        };
        let details = status_details(&status.encode_to_vec());
        assert_eq!(details.len(), 1);
        assert_eq!(details[0].type_name(), "google.protobuf.Duration");
        let pool = DescriptorPool::global();
        let json = message_to_json(
            &pool,
            &JsonOptions::default(),
            details[0].type_name(),
            &details[0].value,
        )
        .unwrap();
        assert_eq!(json, b"\"3s\"");
        assert!(message_to_json(&pool, &JsonOptions::default(), "no.Such", b"").is_none());
        assert!(status_details(b"\xff\xff").is_empty());
    }
}
