//! Compiles the example protos with protox (no `protoc` needed) into encoded
//! `FileDescriptorSet`s, one per backend plus one with everything, and generates
//! the tonic stubs from the combined set.
//!
//! The encoded bytes are what the reflection services serve: going through
//! `prost_types` would drop the `google.api.http` extension options.

use std::path::PathBuf;

use prost::Message;

/// Where the example protos live, relative to this crate.
const PROTO_DIR: &str = "../protos";
/// The bundled google/api protos (owned by the discovery crate; not duplicated).
const GOOGLE_API_DIR: &str = "../../crates/discovery/proto";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    println!("cargo:rerun-if-changed={PROTO_DIR}");
    println!("cargo:rerun-if-changed={GOOGLE_API_DIR}");

    let sets: [(&str, &[&str]); 3] = [
        ("greeter.bin", &["greeter.proto", "echo.proto"]),
        ("library.bin", &["library.proto"]),
        ("all.bin", &["greeter.proto", "echo.proto", "library.proto"]),
    ];
    for (out, files) in sets {
        let bytes = compile(files)?;
        std::fs::write(out_dir.join(out), &bytes)?;
        if out == "all.bin" {
            let fds = prost_types::FileDescriptorSet::decode(bytes.as_slice())?;
            tonic_prost_build::configure()
                .build_client(true)
                .build_server(true)
                .include_file("protos.rs")
                .compile_fds(fds)?;
        }
    }
    Ok(())
}

/// Compiles `files` (and every import) into an encoded `FileDescriptorSet`.
fn compile(files: &[&str]) -> Result<Vec<u8>, protox::Error> {
    let mut compiler = protox::Compiler::new([PROTO_DIR, GOOGLE_API_DIR])?;
    compiler.include_imports(true).include_source_info(true);
    compiler.open_files(files)?;
    Ok(compiler.encode_file_descriptor_set())
}
