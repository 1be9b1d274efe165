//! Connect's streaming envelope: a flags byte (`0x01` compressed, `0x02`
//! end of stream), a 4-byte big-endian length, then that many bytes. Each
//! message of a stream, and the final end-of-stream JSON, is one envelope.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tonic::Status;

pub(crate) const FLAG_COMPRESSED: u8 = 0b01;
pub(crate) const FLAG_END_STREAM: u8 = 0b10;
const PREFIX: usize = 5;

/// One envelope, prefix and payload in a single buffer (one body frame).
pub(crate) fn frame(flags: u8, payload: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(PREFIX + payload.len());
    b.put_u8(flags);
    b.put_u32(payload.len() as u32);
    b.put_slice(payload);
    b.freeze()
}

/// Splits a request body into envelopes as its bytes arrive.
#[derive(Debug)]
pub(crate) struct Decoder {
    buf: BytesMut,
    /// Largest payload accepted (`limits.max_body_bytes`, per message).
    limit: usize,
}

impl Decoder {
    pub(crate) fn new(limit: usize) -> Self {
        Decoder {
            buf: BytesMut::new(),
            limit,
        }
    }

    pub(crate) fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next whole envelope (`flags`, payload), if one has arrived. A
    /// declared length over the limit fails at once, before it is buffered.
    pub(crate) fn next(&mut self) -> Result<Option<(u8, Bytes)>, Status> {
        if self.buf.len() < PREFIX {
            return Ok(None);
        }
        let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]) as usize;
        if len > self.limit {
            return Err(Status::resource_exhausted(format!(
                "message of {len} bytes exceeds the {}-byte limit",
                self.limit
            )));
        }
        if self.buf.len() < PREFIX + len {
            return Ok(None);
        }
        let flags = self.buf[0];
        self.buf.advance(PREFIX);
        Ok(Some((flags, self.buf.split_to(len).freeze())))
    }

    /// At the end of the body: bytes left over are a truncated envelope.
    pub(crate) fn finish(&self) -> Result<(), Status> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(Status::invalid_argument(format!(
                "protocol error: incomplete envelope ({} bytes left at the end of the body)",
                self.buf.len()
            )))
        }
    }
}
