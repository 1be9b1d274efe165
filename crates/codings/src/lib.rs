//! Content codings (gzip, br, zstd) for every layer that compresses: the
//! serve stage's HTTP/JSON responses and request bodies, Connect's messages,
//! and the upstream's gRPC messages (`grpc-encoding`). One owner, so every
//! layer has the same levels, the same streaming flush and the same
//! decompression bound.
//!
//! Decoding is always bounded ([`decompress`]): at most `limit + 1` bytes of
//! output are produced before a body is refused, so a small compressed bomb
//! costs a small allocation.

use std::io::{Read as _, Write as _};

use bytes::Bytes;
use http::HeaderValue;

/// A content coding this gateway reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    /// `gzip` (RFC 1952): what every client accepts.
    Gzip,
    /// `br` (Brotli, RFC 7932): smaller text, for browsers.
    Br,
    /// `zstd` (RFC 8878): fast at a good ratio.
    Zstd,
}

/// Brotli quality for dynamic content: 11 (the library default) costs tens
/// of times the CPU of 4 for a few percent of size; CDNs use 4-5 on the fly.
const BROTLI_QUALITY: u32 = 4;
/// Brotli window (log2 bytes), the library's recommended default.
const BROTLI_LGWIN: u32 = 22;
/// zstd's default level.
const ZSTD_LEVEL: i32 = 3;

impl Coding {
    /// Parses a `Content-Encoding` / `Accept-Encoding` token (`x-gzip` is
    /// gzip, RFC 9110 §8.4.1.3).
    pub fn named(name: &str) -> Option<Coding> {
        let name = name.trim();
        if name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip") {
            Some(Coding::Gzip)
        } else if name.eq_ignore_ascii_case("br") {
            Some(Coding::Br)
        } else if name.eq_ignore_ascii_case("zstd") {
            Some(Coding::Zstd)
        } else {
            None
        }
    }

    /// The coding's token, as `Content-Encoding` and `grpc-encoding` write it.
    pub fn name(self) -> &'static str {
        match self {
            Coding::Gzip => "gzip",
            Coding::Br => "br",
            Coding::Zstd => "zstd",
        }
    }

    /// The coding's header value.
    pub fn header(self) -> HeaderValue {
        HeaderValue::from_static(self.name())
    }
}

/// Why a compressed body could not be read.
#[derive(Debug)]
pub enum DecodeError {
    /// More than the limit once decoded.
    TooLarge,
    /// Not valid data for the coding.
    Corrupt(String),
}

/// Decodes `data`, producing at most `limit` bytes.
pub fn decompress(coding: Coding, data: &[u8], limit: usize) -> Result<Bytes, DecodeError> {
    let mut out = Vec::with_capacity(data.len().saturating_mul(3).min(limit));
    let cap = limit as u64 + 1;
    let read = match coding {
        Coding::Gzip => flate2::read::MultiGzDecoder::new(data)
            .take(cap)
            .read_to_end(&mut out),
        Coding::Br => brotli::Decompressor::new(data, 8192)
            .take(cap)
            .read_to_end(&mut out),
        Coding::Zstd => {
            zstd::stream::read::Decoder::new(data).and_then(|d| d.take(cap).read_to_end(&mut out))
        }
    };
    read.map_err(|e| DecodeError::Corrupt(format!("{} body: {e}", coding.name())))?;
    if out.len() > limit {
        return Err(DecodeError::TooLarge);
    }
    Ok(out.into())
}

/// Encodes `data` whole.
pub fn compress(coding: Coding, data: &[u8]) -> Bytes {
    let mut e = Encoder::new(coding);
    let mut out = e.chunk(data).to_vec();
    out.extend_from_slice(&e.finish());
    out.into()
}

/// A streaming encoder whose every chunk is flushed (decodable on arrival).
pub enum Encoder {
    /// A gzip stream being written.
    Gzip(flate2::write::GzEncoder<Vec<u8>>),
    /// A Brotli stream being written (boxed: its state is large).
    Br(Box<brotli::CompressorWriter<Vec<u8>>>),
    /// A zstd frame being written.
    Zstd(zstd::stream::write::Encoder<'static, Vec<u8>>),
}

impl Encoder {
    /// A fresh encoder.
    pub fn new(coding: Coding) -> Encoder {
        match coding {
            Coding::Gzip => Encoder::Gzip(flate2::write::GzEncoder::new(
                Vec::new(),
                flate2::Compression::default(),
            )),
            Coding::Br => Encoder::Br(Box::new(brotli::CompressorWriter::new(
                Vec::new(),
                4096,
                BROTLI_QUALITY,
                BROTLI_LGWIN,
            ))),
            Coding::Zstd => match zstd::stream::write::Encoder::new(Vec::new(), ZSTD_LEVEL) {
                Ok(e) => Encoder::Zstd(e),
                // Only an allocation failure in the C library; gzip always works.
                Err(_) => Encoder::new(Coding::Gzip),
            },
        }
    }

    /// Encodes `data` and flushes: the returned bytes decode to all of it.
    pub fn chunk(&mut self, data: &[u8]) -> Bytes {
        // Writing into a Vec cannot fail.
        let out = match self {
            Encoder::Gzip(e) => {
                let _ = e.write_all(data);
                let _ = e.flush();
                e.get_mut()
            }
            Encoder::Br(e) => {
                let _ = e.write_all(data);
                let _ = e.flush();
                e.get_mut()
            }
            Encoder::Zstd(e) => {
                let _ = e.write_all(data);
                let _ = e.flush();
                e.get_mut()
            }
        };
        std::mem::take(out).into()
    }

    /// Ends the stream (trailer, checksum).
    pub fn finish(self) -> Bytes {
        match self {
            Encoder::Gzip(e) => e.finish().unwrap_or_default().into(),
            Encoder::Br(e) => e.into_inner().into(),
            Encoder::Zstd(e) => e.finish().unwrap_or_default().into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Coding; 3] = [Coding::Zstd, Coding::Br, Coding::Gzip];

    #[test]
    fn round_trips_and_bounds_decoded_size() {
        let data = b"{\"hello\":\"world\"}".repeat(100);
        for c in ALL {
            let z = compress(c, &data);
            assert!(z.len() < data.len(), "{c:?}");
            assert_eq!(
                &decompress(c, &z, data.len()).unwrap()[..],
                &data[..],
                "{c:?}"
            );
            assert!(matches!(
                decompress(c, &z, data.len() - 1),
                Err(DecodeError::TooLarge)
            ));
            assert!(matches!(
                decompress(c, b"not compressed at all", 100),
                Err(DecodeError::Corrupt(_))
            ));
        }
    }
}
