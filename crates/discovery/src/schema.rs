//! Turning raw `FileDescriptorProto` bytes into a [`Schema`].
//!
//! Every source ends here with the files' *encoded* bytes. They are reassembled
//! into a `FileDescriptorSet` without ever decoding them into `prost_types`
//! (which would silently drop extension options such as `google.api.http`), then
//! handed to `DescriptorPool::decode`, which keeps them.

use prost::Message;
use prost_reflect::DescriptorPool;

use crate::{DiscoveryError, Schema};
use switchboard_config::SchemaSource;

/// `google.protobuf.FileDescriptorSet` with each file kept as opaque bytes: the
/// same wire format (field 1, length-delimited), no decoding of the files.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct RawFileDescriptorSet {
    #[prost(bytes = "vec", repeated, tag = "1")]
    pub file: Vec<Vec<u8>>,
}

/// Builds a schema from raw file bytes. `services` is the list the source offers;
/// `None` means "every service in the pool".
pub(crate) fn build(
    files: Vec<Vec<u8>>,
    services: Option<Vec<String>>,
    source: SchemaSource,
) -> Result<Schema, DiscoveryError> {
    let digest = digest(&files);
    let set = RawFileDescriptorSet { file: files }.encode_to_vec();
    let pool = DescriptorPool::decode(set.as_slice())
        .map_err(|e| DiscoveryError::Descriptors(e.to_string()))?;
    let mut services = match services {
        Some(services) => services,
        None => pool.services().map(|s| s.full_name().to_owned()).collect(),
    };
    services.sort();
    services.dedup();
    if let Some(missing) = services
        .iter()
        .find(|name| pool.get_service_by_name(name).is_none())
    {
        return Err(DiscoveryError::Descriptors(format!(
            "service {missing} is offered but not described by the descriptors"
        )));
    }
    let files = pool.files().map(|f| f.name().to_owned()).collect();
    Ok(Schema {
        pool,
        files,
        services,
        digest,
        source,
    })
}

/// A stable 64-bit FNV-1a hash of the sorted file bytes (each length-prefixed),
/// so it does not depend on the order a server happened to return files in, nor
/// on the Rust release (unlike `DefaultHasher`).
pub(crate) fn digest(files: &[Vec<u8>]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0100_0000_01b3;
    let mut sorted: Vec<&[u8]> = files.iter().map(Vec::as_slice).collect();
    sorted.sort_unstable();
    let mut hash = OFFSET;
    for file in sorted {
        for byte in (file.len() as u64).to_le_bytes().iter().chain(file) {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(PRIME);
        }
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_ignores_order_but_not_content() {
        let a = vec![b"one".to_vec(), b"two".to_vec()];
        let b = vec![b"two".to_vec(), b"one".to_vec()];
        let c = vec![b"on".to_vec(), b"etwo".to_vec()];
        assert_eq!(digest(&a), digest(&b));
        assert_ne!(digest(&a), digest(&c));
    }
}
