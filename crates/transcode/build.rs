//! Compiles the bundled google.rpc protos (owned by the discovery crate, which
//! also offers them to `protos:` backends) into an encoded FileDescriptorSet
//! that the transcoder embeds: the standard error details are then printed
//! decoded whatever a backend's own descriptors hold. protox, so no `protoc`.

use std::path::PathBuf;

const PROTO_DIR: &str = "../discovery/proto";
const FILES: [&str; 3] = [
    "google/rpc/status.proto",
    "google/rpc/code.proto",
    "google/rpc/error_details.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed={PROTO_DIR}/google/rpc");
    let mut compiler = protox::Compiler::new([PROTO_DIR])?;
    compiler.include_imports(true);
    compiler.open_files(FILES)?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?).join("google_rpc.bin");
    std::fs::write(out, compiler.encode_file_descriptor_set())?;
    Ok(())
}
