//! Connect's compression: `Content-Encoding` / `Accept-Encoding` for unary
//! calls, `Connect-Content-Encoding` / `Connect-Accept-Encoding` (with the
//! envelope's compressed flag per message) for streams. gzip is the codec every
//! Connect implementation ships; `identity` is no compression. The codec itself
//! is the gateway's one (`crate::compression`); this module is Connect's
//! negotiation and error mapping.
//!
//! Responses are compressed only from [`MIN_BYTES`] up: below that gzip's
//! header and the CPU cost more than they save (connect-go's
//! `WithCompressMinBytes`, nginx's `gzip_min_length`, Envoy's
//! `min_content_length` make the same trade).

use bytes::Bytes;
use http::HeaderMap;
use tonic::{Code, Status};

/// Responses shorter than this are sent uncompressed.
pub(crate) const MIN_BYTES: usize = 1024;

/// What the gateway accepts and offers, for `Accept-Encoding` answers.
pub(crate) const SUPPORTED: &str = "gzip";

/// A content coding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    Identity,
    Gzip,
}

impl Encoding {
    fn named(name: &str) -> Option<Encoding> {
        let name = name.trim();
        if name.eq_ignore_ascii_case("gzip") {
            Some(Encoding::Gzip)
        } else if name.is_empty() || name.eq_ignore_ascii_case("identity") {
            Some(Encoding::Identity)
        } else {
            None
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Encoding::Identity => "identity",
            Encoding::Gzip => "gzip",
        }
    }
}

/// How the request's messages are compressed (`header` names the header that
/// says so). An unknown coding is UNIMPLEMENTED, as connect-go answers it.
pub(crate) fn request_encoding(headers: &HeaderMap, header: &str) -> Result<Encoding, Status> {
    match headers.get(header) {
        None => Ok(Encoding::Identity),
        Some(v) => named_or_unimplemented(v.to_str().unwrap_or("?")),
    }
}

/// The coding named by a GET's `compression` parameter (absent: identity).
pub(crate) fn named_or_unimplemented(name: &str) -> Result<Encoding, Status> {
    Encoding::named(name).ok_or_else(|| {
        Status::new(
            Code::Unimplemented,
            format!("unknown compression {name:?}: supported encodings are {SUPPORTED}"),
        )
    })
}

/// The coding to answer with: gzip when `header` lists it (with a non-zero
/// `q`), identity otherwise.
pub(crate) fn response_encoding(headers: &HeaderMap, header: &str) -> Encoding {
    let accepts_gzip = headers
        .get_all(header)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or_default();
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    == Some(0.0)
            });
            Encoding::named(name) == Some(Encoding::Gzip) && !refused
        });
    if accepts_gzip {
        Encoding::Gzip
    } else {
        Encoding::Identity
    }
}

/// Decompresses `data`, refusing more than `limit` bytes of output (a small
/// gzip body can expand without bound).
pub(crate) fn decompress(encoding: Encoding, data: Bytes, limit: usize) -> Result<Bytes, Status> {
    match encoding {
        Encoding::Identity => Ok(data),
        Encoding::Gzip => {
            use crate::compression::{Coding, DecodeError, decompress};
            decompress(Coding::Gzip, &data, limit).map_err(|e| match e {
                DecodeError::TooLarge => Status::resource_exhausted(format!(
                    "message exceeds the {limit}-byte limit once decompressed"
                )),
                DecodeError::Corrupt(why) => Status::invalid_argument(format!("decompress: {why}")),
            })
        }
    }
}

/// Compresses `data` (gzip's default level).
pub(crate) fn gzip(data: &[u8]) -> Bytes {
    crate::compression::compress(crate::compression::Coding::Gzip, data)
}
