//! Which worker thread the caller is on, for the workers model
//! (`runtime.model: workers`): each endpoint's [`Conn`](crate::conn) keeps one
//! HTTP/2 connection per worker, so a request handled on worker `i` is sent on
//! worker `i`'s connection, whose driver task runs on the same single-thread
//! runtime, and no other thread is woken to carry it.
//!
//! A worker thread calls [`enter`] once when it starts. Every other thread
//! (the main multi-thread runtime: health checks, discovery, an embedding
//! application's own runtime) has no index and uses the endpoint's shared
//! connection, as the shared model does for everything.

use std::cell::Cell;

thread_local! {
    static WORKER: Cell<Option<usize>> = const { Cell::new(None) };
}

/// Marks the current thread as worker `index` (0-based) for the rest of its
/// life. Called by the thread that runs that worker's runtime, before it
/// serves anything.
pub fn enter(index: usize) {
    WORKER.with(|w| w.set(Some(index)));
}

/// The current thread's worker index; `None` off the worker threads.
pub(crate) fn current() -> Option<usize> {
    WORKER.with(Cell::get)
}

/// The connection slot a caller uses among `slots` (slot 0 shared, slot
/// `i + 1` worker `i`'s): its worker's, or the shared one off the workers and
/// for a worker the endpoint has no slot for (more workers than slots).
pub(crate) fn slot(worker: Option<usize>, slots: usize) -> usize {
    match worker {
        Some(i) if i < slots.saturating_sub(1) => i + 1,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_get_their_own_slot_and_others_the_shared_one() {
        // One shared slot and two workers'.
        assert_eq!(slot(None, 3), 0);
        assert_eq!(slot(Some(0), 3), 1);
        assert_eq!(slot(Some(1), 3), 2);
        // A worker beyond the slots falls back to the shared connection.
        assert_eq!(slot(Some(2), 3), 0);
        assert_eq!(slot(Some(usize::MAX), 3), 0);
        // The shared model: only the shared slot.
        assert_eq!(slot(Some(0), 1), 0);
    }

    #[test]
    fn the_index_is_per_thread() {
        assert_eq!(current(), None);
        std::thread::spawn(|| {
            enter(3);
            assert_eq!(current(), Some(3));
        })
        .join()
        .unwrap();
        assert_eq!(current(), None, "another thread's index does not leak");
    }
}
