//! One descriptor pool for many backends.
//!
//! Every backend's descriptors import the same files (`google/protobuf/*.proto`,
//! `google/api/annotations.proto`, ...), and a prost-reflect pool per backend
//! holds its own decoded copy of each: with a hundred backends that is most of
//! the gateway's memory. Before each publish, the backends' files are merged into
//! one pool, file by file, and every backend whose files fit (no file of the same
//! name with other contents, no symbol defined twice) uses it. A backend that
//! does not fit keeps its own pool, so a conflict costs memory, never
//! correctness. The merge reads encoded files, so extension options such as
//! `google.api.http` survive.
//!
//! A freshly discovered schema does not even keep its own pool until the merge:
//! the reloader [`detach`]es it right away, keeping only its encoded files, and
//! the merge decodes those straight into the shared pool. Holding every
//! backend's decoded pool (each with its own copy of `descriptor.proto`) until
//! all were discovered used to more than double the gateway's peak memory, and
//! the heap stayed fragmented by it afterwards.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use prost_reflect::DescriptorPool;
use switchboard_discovery::Schema;
use tracing::{debug, error};

/// One backend's schema, as handed to [`share`].
pub(crate) struct Member<'a> {
    pub(crate) schema: &'a mut Schema,
    /// The schema's files, encoded, in `schema.files` order, when [`detach`] took
    /// its pool away; `None` when the schema still has its (shared or own) pool.
    pub(crate) detached: Option<Vec<Vec<u8>>>,
}

/// Replaces a freshly discovered schema's pool with an empty placeholder and
/// returns its files, encoded, for the next [`share`], which gives the schema a
/// real pool again. Returns `None`, leaving the schema alone, if the pool lacks
/// one of the schema's files (it cannot: discovery lists them from the pool).
pub(crate) fn detach(schema: &mut Schema) -> Option<Vec<Vec<u8>>> {
    let encoded = encode(schema)?;
    schema.pool = DescriptorPool::new();
    Some(encoded)
}

/// Gives every member a pool: the one shared pool if its files fit, else its own.
/// Members are merged in order, so earlier ones win a file-name clash.
pub(crate) fn share(members: Vec<Member<'_>>) {
    let mut merged = DescriptorPool::new();
    // A digest of each merged file's encoded bytes, by file name.
    let mut digests: HashMap<String, u64> = HashMap::new();
    let mut shared = Vec::with_capacity(members.len());
    let mut own = 0usize;
    for Member { schema, detached } in members {
        let was_detached = detached.is_some();
        let Some(encoded) = detached.or_else(|| encode(schema)) else {
            debug!("backend keeps its own descriptor pool");
            own += 1;
            continue;
        };
        if merge(&mut merged, &mut digests, &schema.files, &encoded) {
            shared.push(schema);
            continue;
        }
        debug!(
            files = encoded.len(),
            "backend keeps its own descriptor pool"
        );
        own += 1;
        if was_detached {
            // Discovery decoded these very files into a pool, so this succeeds.
            match DescriptorPool::decode(encode_set(encoded.iter()).as_slice()) {
                Ok(pool) => schema.pool = pool,
                Err(e) => error!(error = %e, "cannot rebuild a backend's descriptor pool"),
            }
        }
    }
    debug!(
        shared = shared.len(),
        own,
        files = digests.len(),
        "descriptor pools merged"
    );
    for schema in shared {
        schema.pool = merged.clone();
    }
}

/// The schema's files, encoded from its pool, in `schema.files` order.
fn encode(schema: &Schema) -> Option<Vec<Vec<u8>>> {
    schema
        .files
        .iter()
        .map(|name| Some(schema.pool.get_file_by_name(name)?.encode_to_vec()))
        .collect()
}

/// Adds the files the pool does not have yet, all at once, if those it has are
/// byte-identical and no new file defines a symbol the pool already has. Returns
/// whether the files fit; if not, the pool is unchanged (prost-reflect rolls a
/// failed addition back).
fn merge(
    merged: &mut DescriptorPool,
    digests: &mut HashMap<String, u64>,
    names: &[String],
    encoded: &[Vec<u8>],
) -> bool {
    let mut new = Vec::new();
    for (name, bytes) in names.iter().zip(encoded) {
        match digests.get(name.as_str()) {
            // Equal digests are confirmed byte by byte: a file that is merely
            // similar must never stand in for another backend's.
            Some(digest) => {
                let same = *digest == digest_of(bytes)
                    && merged
                        .get_file_by_name(name)
                        .is_some_and(|file| file.encode_to_vec() == *bytes);
                if !same {
                    return false;
                }
            }
            None => new.push((name, bytes)),
        }
    }
    if new.is_empty() {
        return true;
    }
    let set = encode_set(new.iter().map(|(_, bytes)| *bytes));
    if merged.decode_file_descriptor_set(set.as_slice()).is_err() {
        return false;
    }
    for (name, bytes) in new {
        digests.insert(name.clone(), digest_of(bytes));
    }
    true
}

/// A `google.protobuf.FileDescriptorSet` of already encoded files: each is field
/// 1, length-delimited.
fn encode_set<'a>(files: impl Iterator<Item = &'a Vec<u8>> + Clone) -> Vec<u8> {
    use prost::encoding::{WireType, encode_key, encode_varint, encoded_len_varint};
    let len = files
        .clone()
        .map(|f| 1 + encoded_len_varint(f.len() as u64) + f.len())
        .sum();
    let mut set = Vec::with_capacity(len);
    for file in files {
        encode_key(1, WireType::LengthDelimited, &mut set);
        encode_varint(file.len() as u64, &mut set);
        set.extend_from_slice(file);
    }
    set
}

fn digest_of(bytes: &[u8]) -> u64 {
    let mut hasher = DefaultHasher::new();
    bytes.hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(files: &[(&str, &str)]) -> Schema {
        let mut resolver = protox::file::ChainFileResolver::new();
        resolver.add(InMemory(
            files
                .iter()
                .map(|(n, t)| (n.to_string(), t.to_string()))
                .collect(),
        ));
        resolver.add(protox::file::GoogleFileResolver::new());
        let mut compiler = protox::Compiler::with_file_resolver(resolver);
        compiler.include_imports(true);
        compiler.open_files(files.iter().map(|(n, _)| *n)).unwrap();
        let pool =
            DescriptorPool::decode(compiler.encode_file_descriptor_set().as_slice()).unwrap();
        let names = pool.files().map(|f| f.name().to_owned()).collect();
        Schema {
            pool,
            files: names,
            services: Vec::new(),
            digest: 0,
            source: switchboard_config::SchemaSource::Protos,
        }
    }

    /// `share` with every schema keeping its pool until the merge.
    fn share_pooled(schemas: &mut [&mut Schema]) {
        share(
            schemas
                .iter_mut()
                .map(|schema| Member {
                    schema,
                    detached: None,
                })
                .collect(),
        );
    }

    struct InMemory(HashMap<String, String>);

    impl protox::file::FileResolver for InMemory {
        fn open_file(&self, name: &str) -> Result<protox::file::File, protox::Error> {
            match self.0.get(name) {
                Some(text) => protox::file::File::from_source(name, text),
                None => Err(protox::Error::file_not_found(name)),
            }
        }
    }

    const A: &str = "syntax = \"proto3\"; package a; import \"google/protobuf/timestamp.proto\"; message M { google.protobuf.Timestamp t = 1; } service S { rpc Get(M) returns (M); }";
    const B: &str = "syntax = \"proto3\"; package b; import \"google/protobuf/timestamp.proto\"; message M { google.protobuf.Timestamp t = 1; } service S { rpc Get(M) returns (M); }";
    const A2: &str = "syntax = \"proto3\"; package a; message M { string other = 1; } service S { rpc Get(M) returns (M); }";

    #[test]
    fn compatible_backends_share_one_pool() {
        let mut a = schema(&[("a.proto", A)]);
        let mut b = schema(&[("b.proto", B)]);
        share_pooled(&mut [&mut a, &mut b]);
        assert!(a.pool == b.pool, "one shared pool");
        assert!(a.pool.get_service_by_name("a.S").is_some());
        assert!(a.pool.get_service_by_name("b.S").is_some());
        assert_eq!(
            a.pool
                .files()
                .filter(|f| f.name() == "google/protobuf/timestamp.proto")
                .count(),
            1
        );
    }

    #[test]
    fn a_conflicting_backend_keeps_its_own_pool() {
        let mut a = schema(&[("a.proto", A)]);
        // Same file name, different contents.
        let mut a2 = schema(&[("a.proto", A2)]);
        let mut b = schema(&[("b.proto", B)]);
        share_pooled(&mut [&mut a, &mut a2, &mut b]);
        assert!(a.pool == b.pool);
        assert!(a.pool != a2.pool);
        let m = a2.pool.get_message_by_name("a.M").unwrap();
        assert!(
            m.get_field_by_name("other").is_some(),
            "a2 keeps its own definition"
        );
    }

    #[test]
    fn detached_schemas_get_a_pool_back() {
        let mut a = schema(&[("a.proto", A)]);
        let mut a2 = schema(&[("a.proto", A2)]);
        let mut b = schema(&[("b.proto", B)]);
        let files = a.files.clone();
        let (da, da2) = (detach(&mut a), detach(&mut a2));
        assert!(da.is_some() && da2.is_some());
        assert!(
            a.pool.get_file_by_name("a.proto").is_none(),
            "detached: the pool is a placeholder"
        );
        assert_eq!(a.files, files, "the file list stays");
        share(vec![
            Member {
                schema: &mut a,
                detached: da,
            },
            Member {
                schema: &mut a2,
                detached: da2,
            },
            Member {
                schema: &mut b,
                detached: None,
            },
        ]);
        assert!(
            a.pool == b.pool,
            "detached and pooled schemas share one pool"
        );
        assert!(a.pool.get_service_by_name("b.S").is_some());
        assert!(
            a.pool
                .get_message_by_name("a.M")
                .is_some_and(|m| m.get_field_by_name("t").is_some())
        );
        // The conflicting one was detached too: it gets its own pool back.
        assert!(a2.pool != a.pool);
        let m = a2.pool.get_message_by_name("a.M").unwrap();
        assert!(m.get_field_by_name("other").is_some());
        assert!(a2.pool.get_service_by_name("a.S").is_some());
    }

    #[test]
    fn a_symbol_clash_leaves_the_shared_pool_as_it_was() {
        // Another file name, but the same package and symbols as A.
        let mut a = schema(&[("a.proto", A)]);
        let mut clash = schema(&[("other/a.proto", A2)]);
        let mut b = schema(&[("b.proto", B)]);
        share_pooled(&mut [&mut a, &mut clash, &mut b]);
        assert!(a.pool == b.pool);
        assert!(clash.pool != a.pool);
        assert!(a.pool.get_file_by_name("other/a.proto").is_none());
        let m = a.pool.get_message_by_name("a.M").unwrap();
        assert!(m.get_field_by_name("t").is_some());
        assert!(m.get_field_by_name("other").is_none());
    }
}
