//! What a backend's HTTP/2 SETTINGS say it accepts, read off the wire.
//!
//! A backend advertises SETTINGS_MAX_HEADER_LIST_SIZE in the SETTINGS frame it
//! must send first on every connection (RFC 9113 §3.4). A header block over it
//! may be treated as a connection error (hyper/tonic reset the connection with
//! `header_list_way_too_large` when it is far over), which fails every other
//! call on the connection the gateway shares between clients. The `h2` crate
//! enforces only its own limit and does not expose the peer's, so the
//! connection's read side is wrapped in a [`Sniffer`] that parses that first
//! frame as it passes through (no copy of the stream, no extra connection) and
//! then gets out of the way; the serve stage answers an oversized request itself
//! (`limits.max_metadata_bytes` or this, whichever is lower).
//!
//! Only the connection preface's SETTINGS are read: servers set the value once,
//! and parsing every later frame header would cost each read for nothing.

use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// No value advertised: RFC 9113's initial value is "unlimited".
const UNKNOWN: u32 = u32::MAX;

/// SETTINGS_MAX_HEADER_LIST_SIZE's identifier.
const MAX_HEADER_LIST_SIZE: u16 = 0x6;

/// The SETTINGS frame type.
const SETTINGS: u8 = 0x4;

/// Bumped whenever any connection's advertised limit changes (a SETTINGS frame
/// read, a new connection starting over) and whenever a backend's endpoint set
/// changes: a backend's smallest limit ([`HeaderListLimit`]) is cached against
/// it, so the request path reads the cache (two atomic loads) and rescans the
/// endpoints only after something changed, which is rare (once per connection).
static EPOCH: AtomicU32 = AtomicU32::new(0);

/// Marks every backend's cached limit stale (see [`EPOCH`]).
pub(crate) fn invalidate() {
    EPOCH.fetch_add(1, Ordering::Release);
}

/// A backend's smallest advertised header list size, computed once per change
/// of any endpoint's SETTINGS or of the endpoint set, read in O(1): the epoch
/// it was computed at (high 32 bits) and the value (low 32 bits, [`UNKNOWN`]
/// for none).
#[derive(Debug)]
pub(crate) struct HeaderListLimit(AtomicU64);

impl Default for HeaderListLimit {
    fn default() -> Self {
        // One epoch behind the current one: the first read computes.
        let stale = EPOCH.load(Ordering::Acquire).wrapping_sub(1);
        HeaderListLimit(AtomicU64::new(pack(stale, UNKNOWN)))
    }
}

fn pack(epoch: u32, value: u32) -> u64 {
    u64::from(epoch) << 32 | u64::from(value)
}

impl HeaderListLimit {
    /// The cached value when nothing changed since it was computed, else
    /// `compute()` (the scan over the endpoints), cached. The epoch is read
    /// before the scan, so a change during the scan leaves the stored value
    /// stale for the next read rather than wrongly fresh.
    pub(crate) fn get(&self, compute: impl FnOnce() -> Option<usize>) -> Option<usize> {
        self.get_at(&EPOCH, compute)
    }

    /// [`Self::get`] against a given epoch counter (tests use their own, so
    /// other tests' connections cannot make them recompute).
    fn get_at(&self, epoch: &AtomicU32, compute: impl FnOnce() -> Option<usize>) -> Option<usize> {
        let epoch = epoch.load(Ordering::Acquire);
        let cached = self.0.load(Ordering::Acquire);
        let value = if (cached >> 32) as u32 == epoch {
            cached as u32
        } else {
            let v = compute().map_or(UNKNOWN, |n| n.min(UNKNOWN as usize) as u32);
            self.0.store(pack(epoch, v), Ordering::Release);
            v
        };
        match value {
            UNKNOWN => None,
            n => Some(n as usize),
        }
    }
}

/// The backend's advertised limits, shared by a connection's reader and callers.
#[derive(Debug)]
pub(crate) struct PeerSettings {
    max_header_list_size: AtomicU32,
}

impl Default for PeerSettings {
    fn default() -> Self {
        PeerSettings {
            max_header_list_size: AtomicU32::new(UNKNOWN),
        }
    }
}

impl PeerSettings {
    /// The header list size the backend's current connection accepts, if it
    /// advertised one.
    pub(crate) fn max_header_list_size(&self) -> Option<usize> {
        match self.max_header_list_size.load(Ordering::Relaxed) {
            UNKNOWN => None,
            n => Some(n as usize),
        }
    }

    /// A new connection starts from the RFC's default until its SETTINGS arrive.
    pub(crate) fn reset(&self) {
        if self.max_header_list_size.swap(UNKNOWN, Ordering::AcqRel) != UNKNOWN {
            invalidate();
        }
    }

    fn set_max_header_list_size(&self, n: u32) {
        // u32::MAX itself means "as good as unlimited".
        if self.max_header_list_size.swap(n, Ordering::AcqRel) != n {
            invalidate();
        }
    }
}

/// Incremental parser of the first frame a server sends.
#[derive(Debug, Default)]
struct Preface {
    header: [u8; 9],
    header_len: usize,
    /// Payload bytes of the SETTINGS frame still to come.
    remaining: usize,
    entry: [u8; 6],
    entry_len: usize,
    done: bool,
}

impl Preface {
    /// Feeds bytes as they arrive; records the value when the entry is complete.
    fn feed(&mut self, mut bytes: &[u8], into: &PeerSettings) {
        while !self.done && !bytes.is_empty() {
            if self.header_len < 9 {
                let n = (9 - self.header_len).min(bytes.len());
                self.header[self.header_len..self.header_len + n].copy_from_slice(&bytes[..n]);
                self.header_len += n;
                bytes = &bytes[n..];
                if self.header_len == 9 {
                    let h = &self.header;
                    let length =
                        usize::from(h[0]) << 16 | usize::from(h[1]) << 8 | usize::from(h[2]);
                    let ack = h[4] & 0x1 != 0;
                    // Anything but a non-ACK SETTINGS frame first is not a
                    // preface we understand: leave the limit unknown.
                    self.done = h[3] != SETTINGS || ack || length % 6 != 0 || length == 0;
                    self.remaining = length;
                }
                continue;
            }
            let n = (6 - self.entry_len).min(bytes.len()).min(self.remaining);
            self.entry[self.entry_len..self.entry_len + n].copy_from_slice(&bytes[..n]);
            self.entry_len += n;
            self.remaining -= n;
            bytes = &bytes[n..];
            if self.entry_len == 6 {
                let e = &self.entry;
                let id = u16::from_be_bytes([e[0], e[1]]);
                if id == MAX_HEADER_LIST_SIZE {
                    into.set_max_header_list_size(u32::from_be_bytes([e[2], e[3], e[4], e[5]]));
                }
                self.entry_len = 0;
            }
            if self.remaining == 0 {
                self.done = true;
            }
        }
    }
}

/// A connection's I/O with its first incoming frame parsed on the way through.
#[derive(Debug)]
pub(crate) struct Sniffer<IO> {
    io: IO,
    preface: Preface,
    settings: std::sync::Arc<PeerSettings>,
}

impl<IO> Sniffer<IO> {
    pub(crate) fn new(io: IO, settings: std::sync::Arc<PeerSettings>) -> Self {
        settings.reset();
        Sniffer {
            io,
            preface: Preface::default(),
            settings,
        }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Sniffer<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if this.preface.done {
            return Pin::new(&mut this.io).poll_read(cx, buf);
        }
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.io).poll_read(cx, buf))?;
        this.preface.feed(&buf.filled()[before..], &this.settings);
        Poll::Ready(Ok(()))
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Sniffer<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings_frame(entries: &[(u16, u32)], flags: u8) -> Vec<u8> {
        let len = entries.len() * 6;
        let mut f = vec![
            (len >> 16) as u8,
            (len >> 8) as u8,
            len as u8,
            SETTINGS,
            flags,
        ];
        f.extend_from_slice(&0u32.to_be_bytes());
        for (id, v) in entries {
            f.extend_from_slice(&id.to_be_bytes());
            f.extend_from_slice(&v.to_be_bytes());
        }
        f
    }

    #[test]
    fn reads_the_value_however_the_bytes_are_split() {
        let mut frame =
            settings_frame(&[(0x3, 200), (MAX_HEADER_LIST_SIZE, 4096), (0x4, 65535)], 0);
        frame.extend_from_slice(b"next frame bytes are not looked at");
        for split in 1..frame.len() {
            let s = PeerSettings::default();
            let mut p = Preface::default();
            for chunk in frame.chunks(split) {
                p.feed(chunk, &s);
            }
            assert!(p.done);
            assert_eq!(s.max_header_list_size(), Some(4096), "split {split}");
        }
    }

    #[test]
    fn no_value_or_another_first_frame_leaves_it_unknown() {
        let s = PeerSettings::default();
        let mut p = Preface::default();
        p.feed(&settings_frame(&[(0x3, 100)], 0), &s);
        assert!(p.done);
        assert_eq!(s.max_header_list_size(), None);

        // An ACK, or a frame of another type (here PING), is not the preface.
        for frame in [settings_frame(&[(MAX_HEADER_LIST_SIZE, 10)], 1), {
            let mut f = settings_frame(&[(MAX_HEADER_LIST_SIZE, 10)], 0);
            f[3] = 0x6;
            f
        }] {
            let s = PeerSettings::default();
            let mut p = Preface::default();
            p.feed(&frame, &s);
            assert!(p.done);
            assert_eq!(s.max_header_list_size(), None);
        }
    }

    #[test]
    fn the_cached_limit_is_recomputed_after_a_change_only() {
        let epoch = AtomicU32::new(7);
        let limit = HeaderListLimit(AtomicU64::new(pack(6, UNKNOWN)));
        let scans = std::cell::Cell::new(0);
        let scan = |v| {
            scans.set(scans.get() + 1);
            v
        };
        assert_eq!(limit.get_at(&epoch, || scan(Some(4096))), Some(4096));
        // Nothing changed: the cache answers, the scan does not run.
        assert_eq!(limit.get_at(&epoch, || scan(Some(1))), Some(4096));
        assert_eq!(scans.get(), 1);
        epoch.fetch_add(1, Ordering::Relaxed);
        assert_eq!(limit.get_at(&epoch, || scan(None)), None);
        assert_eq!(limit.get_at(&epoch, || scan(Some(7))), None);
        assert_eq!(scans.get(), 2);
    }

    #[test]
    fn a_changed_setting_invalidates_every_cached_limit() {
        let s = PeerSettings::default();
        let before = EPOCH.load(Ordering::Acquire);
        s.set_max_header_list_size(100);
        assert_ne!(EPOCH.load(Ordering::Acquire), before);
        let before = EPOCH.load(Ordering::Acquire);
        s.reset();
        assert_ne!(EPOCH.load(Ordering::Acquire), before);
    }

    #[test]
    fn a_new_connection_forgets_the_old_value() {
        let s = std::sync::Arc::new(PeerSettings::default());
        s.set_max_header_list_size(100);
        let _sniffer = Sniffer::new(tokio::io::empty(), s.clone());
        assert_eq!(s.max_header_list_size(), None);
    }
}
