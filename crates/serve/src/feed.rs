//! A client's request stream on its way upstream: the one state machine every
//! streaming request shape uses (HTTP/JSON client and bidi streaming over a
//! POST body, Connect's enveloped streams). Only the framing differs (JSON
//! values one after another, or Connect envelopes), so that is a small trait
//! ([`Framing`]) and the rest is written once here:
//!
//! - the body is read only when the upstream call asks for the next message:
//!   the feed is polled by hyper's HTTP/2 client task (through tonic's
//!   encoder), so the body is read as fast as the backend's flow-control
//!   window allows and back-pressure reaches the client;
//! - the end of the body half-closes the request stream, nothing more;
//! - a message the framing rejects either fails the call (the error is kept in
//!   the [`Failure`] slot, which explains the upstream failure that follows,
//!   and the call is cancelled) or, for [`OnBadMessage::HalfClose`], ends the
//!   request stream there;
//! - a failed read of the client's body always cancels the call;
//! - once cancelled the feed never yields again: tonic's encoder sees the
//!   cancellation and fails the request stream.
//!
//! [`CancelOnDrop`] is the other half of the cancellation: hyper resets an
//! upstream stream whose response is dropped only once its request stream has
//! ended, so every streaming call carries a tonic cancellation handle, fired
//! when the client goes away.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures_util::Stream;
use tonic::CancellationHandle;
use tracing::debug;

use crate::body::BodyError;

/// How a request body is cut into messages, and what its errors are.
pub(crate) trait Framing {
    /// What a bad message or a failed read becomes (the call's error).
    type Error;

    /// Adds body bytes as they arrive.
    fn push(&mut self, data: &[u8]);

    /// The next message, encoded for the backend; `Ok(None)` when more body is
    /// needed (or, once `eof`, when nothing is left).
    fn next_message(&mut self, eof: bool) -> Result<Option<Bytes>, Self::Error>;

    /// The error for a body that could not be read (the client went away or
    /// sent a broken one).
    fn unreadable(message: String) -> Self::Error;

    /// The error's message, for the log.
    fn describe(error: &Self::Error) -> &str;
}

/// What to do with a request message the framing rejects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnBadMessage {
    /// Fail the call with that error (client streaming, as grpc-gateway; Connect).
    Fail,
    /// End the request stream there (bidi over POST, as grpc-gateway, whose
    /// sending goroutine stops at the first decode error).
    HalfClose,
}

/// Why the request stream was abandoned, if it was; shared by the feed (which
/// fills it) and the handler (which answers with it).
pub(crate) struct Failure<E>(Arc<Mutex<Option<E>>>);

impl<E> Failure<E> {
    /// The error, once: it explains the upstream failure that follows.
    pub(crate) fn take(&self) -> Option<E> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    fn set(&self, error: E) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(error);
    }
}

impl<E> Clone for Failure<E> {
    fn clone(&self) -> Self {
        Failure(self.0.clone())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    /// The request stream ended (end of body, or a bad message when half-closing).
    Ended,
    /// The call is being reset: never yield again.
    Cancelled,
}

/// The request stream handed to the upstream call (see the module doc).
pub(crate) struct Feed<B, F: Framing> {
    body: B,
    framing: F,
    on_bad: OnBadMessage,
    failure: Failure<F::Error>,
    cancel: CancellationHandle,
    eof: bool,
    state: State,
}

impl<B, F: Framing> Feed<B, F> {
    /// A feed of `body` cut by `framing`; `cancel` resets the call when the
    /// stream fails. The returned slot says why, if it did.
    pub(crate) fn new(
        body: B,
        framing: F,
        on_bad: OnBadMessage,
        cancel: CancellationHandle,
    ) -> (Self, Failure<F::Error>) {
        let failure = Failure(Arc::new(Mutex::new(None)));
        let feed = Feed {
            body,
            framing,
            on_bad,
            failure: failure.clone(),
            cancel,
            eof: false,
            state: State::Open,
        };
        (feed, failure)
    }

    fn fail(&mut self, error: F::Error) -> Poll<Option<Bytes>> {
        debug!(
            message = F::describe(&error),
            "request stream failed; cancelling the upstream call"
        );
        self.state = State::Cancelled;
        self.failure.set(error);
        self.cancel.clone().cancel();
        // The cancellation wakes tonic's encoder, which then fails the stream.
        Poll::Pending
    }
}

impl<B, F> Stream for Feed<B, F>
where
    B: http_body::Body<Data = Bytes, Error = BodyError> + Unpin,
    F: Framing + Unpin,
{
    type Item = Bytes;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        let this = self.get_mut();
        loop {
            match this.state {
                State::Open => {}
                State::Ended => return Poll::Ready(None),
                State::Cancelled => return Poll::Pending,
            }
            match this.framing.next_message(this.eof) {
                Ok(Some(message)) => return Poll::Ready(Some(message)),
                Ok(None) if this.eof => {
                    this.state = State::Ended;
                    return Poll::Ready(None);
                }
                Ok(None) => {}
                Err(error) if this.on_bad == OnBadMessage::Fail => return this.fail(error),
                Err(error) => {
                    debug!(
                        message = F::describe(&error),
                        "bad request message; half-closing"
                    );
                    this.state = State::Ended;
                    return Poll::Ready(None);
                }
            }
            match ready!(Pin::new(&mut this.body).poll_frame(cx)) {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        this.framing.push(&data);
                    }
                }
                // The client went away mid-body (or sent a broken one):
                // abandon the call rather than half-close it.
                Some(Err(e)) => {
                    return this.fail(F::unreadable(format!("cannot read request body: {e}")));
                }
                None => this.eof = true,
            }
        }
    }
}

/// Resets the upstream call (RST_STREAM CANCEL) when dropped, unless its request
/// stream has already ended cleanly, in which case dropping the response does.
pub(crate) struct CancelOnDrop(Option<CancellationHandle>);

impl CancelOnDrop {
    pub(crate) fn new(handle: CancellationHandle) -> Self {
        CancelOnDrop(Some(handle))
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(handle) = self.0.take() {
            handle.cancel();
        }
    }
}

#[cfg(test)]
mod tests {
    use futures_util::{FutureExt as _, StreamExt as _};
    use http_body::Frame;

    use super::*;
    use crate::body::{RequestBody, request_body};

    /// A toy framing: one message per `\n`-terminated line; `bad` is refused.
    #[derive(Default)]
    struct Lines(Vec<u8>);

    impl Framing for Lines {
        type Error = String;

        fn push(&mut self, data: &[u8]) {
            self.0.extend_from_slice(data);
        }

        fn next_message(&mut self, eof: bool) -> Result<Option<Bytes>, String> {
            let Some(end) = self.0.iter().position(|b| *b == b'\n') else {
                return match eof && !self.0.is_empty() {
                    true => Err("unterminated line".into()),
                    false => Ok(None),
                };
            };
            let line: Vec<u8> = self.0.drain(..=end).take(end).collect();
            match &line[..] {
                b"bad" => Err("bad line".into()),
                _ => Ok(Some(line.into())),
            }
        }

        fn unreadable(message: String) -> String {
            message
        }

        fn describe(error: &String) -> &str {
            error
        }
    }

    fn body(chunks: &[&'static str], broken: bool) -> RequestBody {
        let mut frames: Vec<Result<Frame<Bytes>, std::io::Error>> = chunks
            .iter()
            .map(|c| Ok(Frame::data(Bytes::from_static(c.as_bytes()))))
            .collect();
        if broken {
            frames.push(Err(std::io::Error::other("reset")));
        }
        request_body(http_body_util::StreamBody::new(futures_util::stream::iter(
            frames,
        )))
    }

    fn feed(
        chunks: &[&'static str],
        broken: bool,
        on_bad: OnBadMessage,
    ) -> (Feed<RequestBody, Lines>, Failure<String>) {
        let (_, cancel) = switchboard_upstream::cancellable();
        Feed::new(body(chunks, broken), Lines::default(), on_bad, cancel)
    }

    /// The next item, `None` inside when the feed ended, and `Err` when it is
    /// pending (a cancelled feed never yields again).
    fn next(feed: &mut Feed<RequestBody, Lines>) -> Result<Option<Bytes>, ()> {
        feed.next().now_or_never().ok_or(())
    }

    #[test]
    fn messages_split_across_chunks_then_the_end_half_closes() {
        let (mut f, failure) = feed(&["a\nb", "c\n"], false, OnBadMessage::Fail);
        assert_eq!(next(&mut f), Ok(Some(Bytes::from_static(b"a"))));
        assert_eq!(next(&mut f), Ok(Some(Bytes::from_static(b"bc"))));
        assert_eq!(next(&mut f), Ok(None));
        assert_eq!(next(&mut f), Ok(None), "ended stays ended");
        assert_eq!(failure.take(), None);
    }

    #[test]
    fn a_bad_message_fails_the_call_or_half_closes() {
        let (mut f, failure) = feed(&["a\nbad\nc\n"], false, OnBadMessage::Fail);
        assert_eq!(next(&mut f), Ok(Some(Bytes::from_static(b"a"))));
        assert_eq!(next(&mut f), Err(()), "cancelled: pending for good");
        assert_eq!(next(&mut f), Err(()));
        assert_eq!(failure.take().as_deref(), Some("bad line"));
        assert_eq!(failure.take(), None, "taken once");

        let (mut f, failure) = feed(&["a\nbad\nc\n"], false, OnBadMessage::HalfClose);
        assert_eq!(next(&mut f), Ok(Some(Bytes::from_static(b"a"))));
        assert_eq!(next(&mut f), Ok(None), "half-closed at the bad line");
        assert_eq!(next(&mut f), Ok(None));
        assert_eq!(failure.take(), None);
    }

    #[test]
    fn a_broken_body_cancels_even_when_half_closing() {
        let (mut f, failure) = feed(&["a\n"], true, OnBadMessage::HalfClose);
        assert_eq!(next(&mut f), Ok(Some(Bytes::from_static(b"a"))));
        assert_eq!(next(&mut f), Err(()));
        assert_eq!(
            failure.take().as_deref(),
            Some("cannot read request body: reset")
        );
    }

    #[test]
    fn what_is_left_at_the_end_is_the_framing_s_to_judge() {
        let (mut f, failure) = feed(&["a\nb"], false, OnBadMessage::Fail);
        assert_eq!(next(&mut f), Ok(Some(Bytes::from_static(b"a"))));
        assert_eq!(next(&mut f), Err(()));
        assert_eq!(failure.take().as_deref(), Some("unterminated line"));
    }
}
