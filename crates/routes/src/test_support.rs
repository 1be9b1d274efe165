//! Helpers shared by the crate's unit tests: descriptor pools compiled from
//! in-memory .proto sources (decoded from raw bytes, so google.api.http survives)
//! and backend inputs built from them.

use std::collections::HashMap;

use prost_reflect::DescriptorPool;
use protox::file::{ChainFileResolver, File, FileResolver, GoogleFileResolver};

use crate::BackendInput;

const GOOGLE_API: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../discovery/proto");

/// Serves in-memory .proto sources, for tests that generate them.
pub(crate) struct Sources(HashMap<String, String>);

impl FileResolver for Sources {
    fn open_file(&self, name: &str) -> Result<File, protox::Error> {
        match self.0.get(name) {
            Some(source) => File::from_source(name, source),
            None => Err(protox::Error::file_not_found(name)),
        }
    }
}

/// Compiles `source` (as `test.proto`) and decodes the pool from raw bytes,
/// the only way the google.api.http extension values survive.
pub(crate) fn pool(source: &str) -> DescriptorPool {
    let mut resolver = ChainFileResolver::new();
    resolver.add(Sources(HashMap::from([(
        "test.proto".to_owned(),
        source.to_owned(),
    )])));
    resolver.add(protox::file::IncludeFileResolver::new(GOOGLE_API.into()));
    resolver.add(GoogleFileResolver::new());
    let mut compiler = protox::Compiler::with_file_resolver(resolver);
    compiler.include_imports(true);
    compiler
        .open_file("test.proto")
        .expect("test proto compiles");
    let bytes = compiler.encode_file_descriptor_set();
    DescriptorPool::decode(bytes.as_slice()).expect("pool decodes")
}

pub(crate) fn backend(
    index: usize,
    name: &str,
    pool: &DescriptorPool,
    services: &[&str],
) -> BackendInput {
    BackendInput {
        index,
        name: name.to_owned(),
        pool: pool.clone(),
        services: services.iter().map(|s| s.to_string()).collect(),
        http_rules: Vec::new(),
        schema_groups: Vec::new(),
    }
}
