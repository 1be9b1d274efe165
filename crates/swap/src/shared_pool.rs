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

use std::collections::HashMap;

use prost_reflect::{DescriptorPool, FileDescriptor};
use switchboard_discovery::Schema;
use tracing::debug;

/// Replaces the pool of every schema that fits with one shared pool.
pub(crate) fn share(schemas: &mut [&mut Schema]) {
    let mut merged = DescriptorPool::new();
    // Encoded bytes of each merged file, to compare same-named files exactly.
    let mut merged_bytes: HashMap<String, Vec<u8>> = HashMap::new();
    let mut fits = vec![false; schemas.len()];
    for (i, schema) in schemas.iter().enumerate() {
        let own: Vec<FileDescriptor> = schema
            .files
            .iter()
            .filter_map(|name| schema.pool.get_file_by_name(name))
            .collect();
        if own.len() != schema.files.len() || !compatible(&merged, &merged_bytes, &own) {
            debug!(files = own.len(), "backend keeps its own descriptor pool");
            continue;
        }
        let mut ok = true;
        for file in &own {
            if merged_bytes.contains_key(file.name()) {
                continue;
            }
            let bytes = file.encode_to_vec();
            if merged
                .decode_file_descriptor_proto(bytes.as_slice())
                .is_err()
            {
                ok = false;
                break;
            }
            merged_bytes.insert(file.name().to_owned(), bytes);
        }
        if !ok {
            // A conflict the checks did not catch: start again without this backend.
            debug!("descriptor merge failed; rebuilding the shared pool without one backend");
            return share_without(schemas, i);
        }
        fits[i] = true;
    }
    debug!(
        shared = fits.iter().filter(|f| **f).count(),
        own = fits.iter().filter(|f| !**f).count(),
        files = merged_bytes.len(),
        "descriptor pools merged"
    );
    for (schema, fits) in schemas.iter_mut().zip(fits) {
        if fits {
            schema.pool = merged.clone();
        }
    }
}

/// `share`, excluding schema `skip` (which keeps its own pool).
fn share_without(schemas: &mut [&mut Schema], skip: usize) {
    let mut rest: Vec<&mut Schema> = schemas
        .iter_mut()
        .enumerate()
        .filter(|(i, _)| *i != skip)
        .map(|(_, s)| &mut **s)
        .collect();
    share(&mut rest);
}

/// Whether `files` can join the merged pool: same-named files are byte-identical,
/// and no new file defines a top-level symbol the pool already has.
fn compatible(
    merged: &DescriptorPool,
    merged_bytes: &HashMap<String, Vec<u8>>,
    files: &[FileDescriptor],
) -> bool {
    files
        .iter()
        .all(|file| match merged_bytes.get(file.name()) {
            Some(bytes) => *bytes == file.encode_to_vec(),
            None => {
                file.messages()
                    .all(|m| merged.get_message_by_name(m.full_name()).is_none())
                    && file
                        .enums()
                        .all(|e| merged.get_enum_by_name(e.full_name()).is_none())
                    && file
                        .services()
                        .all(|s| merged.get_service_by_name(s.full_name()).is_none())
                    && file
                        .extensions()
                        .all(|x| merged.get_extension_by_name(x.full_name()).is_none())
            }
        })
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
            source: "protos",
        }
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
        share(&mut [&mut a, &mut b]);
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
        share(&mut [&mut a, &mut a2, &mut b]);
        assert!(a.pool == b.pool);
        assert!(a.pool != a2.pool);
        let m = a2.pool.get_message_by_name("a.M").unwrap();
        assert!(
            m.get_field_by_name("other").is_some(),
            "a2 keeps its own definition"
        );
    }
}
