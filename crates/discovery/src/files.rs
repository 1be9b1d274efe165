//! Descriptor sources that are files on disk: a serialized `FileDescriptorSet`
//! (`protoc --include_imports -o`, `buf build -o`) or `.proto` files compiled
//! in-process by protox.

use std::path::{Path, PathBuf};

use prost::Message;
use protox::file::{
    ChainFileResolver, File, FileResolver, GoogleFileResolver, IncludeFileResolver,
};

use crate::schema::{self, RawFileDescriptorSet};
use crate::{DiscoveryError, Schema};
use switchboard_config::SchemaSource;

/// The google/api and google/rpc protos bundled with Switchboard, embedded so
/// that they resolve from any working directory: users' protos that import
/// `google/api/annotations.proto`, `google/api/httpbody.proto` or
/// `google/rpc/{status,code,error_details}.proto` compile without vendoring
/// googleapis.
const BUNDLED: &[(&str, &str)] = &[
    (
        "google/api/annotations.proto",
        include_str!("../proto/google/api/annotations.proto"),
    ),
    (
        "google/api/http.proto",
        include_str!("../proto/google/api/http.proto"),
    ),
    (
        "google/api/httpbody.proto",
        include_str!("../proto/google/api/httpbody.proto"),
    ),
    (
        "google/rpc/status.proto",
        include_str!("../proto/google/rpc/status.proto"),
    ),
    (
        "google/rpc/code.proto",
        include_str!("../proto/google/rpc/code.proto"),
    ),
    (
        "google/rpc/error_details.proto",
        include_str!("../proto/google/rpc/error_details.proto"),
    ),
];

/// Reads and decodes a serialized `FileDescriptorSet`. All its services are offered.
pub(crate) fn from_descriptor_set(path: &Path) -> Result<Schema, DiscoveryError> {
    let bytes = std::fs::read(path).map_err(|e| DiscoveryError::Read {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    from_encoded_set(&bytes).map_err(|e| match e {
        DiscoveryError::Descriptors(message) => DiscoveryError::Descriptors(format!(
            "{}: {message} (expected a serialized google.protobuf.FileDescriptorSet, \
             e.g. from `protoc --include_imports -o`)",
            path.display()
        )),
        other => other,
    })
}

/// Decodes an encoded `FileDescriptorSet` held in memory; see [`crate::schema_from_descriptor_set`].
pub(crate) fn from_encoded_set(bytes: &[u8]) -> Result<Schema, DiscoveryError> {
    let set = RawFileDescriptorSet::decode(bytes)
        .map_err(|e| DiscoveryError::Descriptors(format!("not a FileDescriptorSet: {e}")))?;
    schema::build(set.file, None, SchemaSource::DescriptorSet)
}

/// Compiles `.proto` files. Include paths are the configured ones (or, when none
/// are configured, each file's directory), then the bundled google/api protos,
/// then protobuf's well-known types. Offered services are those defined in the
/// named files, not in their imports.
pub(crate) fn from_protos(
    files: &[PathBuf],
    include_paths: &[PathBuf],
) -> Result<Schema, DiscoveryError> {
    let includes: Vec<PathBuf> = if include_paths.is_empty() {
        let mut dirs: Vec<PathBuf> = files
            .iter()
            .map(|f| f.parent().map(Path::to_path_buf).unwrap_or_default())
            .collect();
        dirs.dedup();
        dirs
    } else {
        include_paths.to_vec()
    };
    let mut resolver = ChainFileResolver::new();
    for include in includes {
        resolver.add(IncludeFileResolver::new(include));
    }
    resolver.add(BundledResolver);
    resolver.add(GoogleFileResolver::new());

    let mut compiler = protox::Compiler::with_file_resolver(resolver);
    compiler.include_imports(true).include_source_info(true);
    for file in files {
        if !file.is_file() {
            return Err(DiscoveryError::Read {
                path: file.display().to_string(),
                message: "no such file".into(),
            });
        }
        compiler
            .open_file(file)
            .map_err(|e| DiscoveryError::Descriptors(protox_message(&e)))?;
    }
    let named: Vec<String> = compiler
        .files()
        .filter(|f| !f.is_import())
        .map(|f| f.name().to_owned())
        .collect();
    let pool = compiler.descriptor_pool();
    let services = named
        .iter()
        .filter_map(|name| pool.get_file_by_name(name))
        .flat_map(|file| {
            file.services()
                .map(|s| s.full_name().to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    let set = RawFileDescriptorSet::decode(compiler.encode_file_descriptor_set().as_slice())
        .map_err(|e| DiscoveryError::Descriptors(e.to_string()))?;
    schema::build(set.file, Some(services), SchemaSource::Protos)
}

/// protox's error with its file and position, which its `Display` alone omits.
fn protox_message(error: &protox::Error) -> String {
    match error.file() {
        Some(file) if !error.to_string().contains(file) => format!("{file}: {error}"),
        _ => error.to_string(),
    }
}

/// Serves [`BUNDLED`] by import name.
struct BundledResolver;

impl FileResolver for BundledResolver {
    fn open_file(&self, name: &str) -> Result<File, protox::Error> {
        match BUNDLED.iter().find(|(bundled, _)| *bundled == name) {
            Some((name, source)) => File::from_source(name, source),
            None => Err(protox::Error::file_not_found(name)),
        }
    }
}
