//! How a use case tells a worker that there is work: it stores the work, then rings the worker's
//! doorbell. A ring while the worker is busy is kept, so stored work is never left waiting for
//! the next poll. The same bell carries shutdown: a pass that sees it asked to stop returns
//! between two steps.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

/// One worker's doorbell; clones ring the same bell.
#[derive(Clone, Debug, Default)]
pub struct Doorbell {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    rung: Notify,
    stopping: AtomicBool,
}

impl Doorbell {
    /// Asks the worker to look for work now (kept when the worker is busy).
    pub fn ring(&self) {
        self.inner.rung.notify_one();
    }

    /// Waits for the next ring.
    pub async fn rung(&self) {
        self.inner.rung.notified().await;
    }

    /// Asks the worker to finish its current step and return.
    pub fn ask_to_stop(&self) {
        self.inner.stopping.store(true, Ordering::SeqCst);
        self.ring();
    }

    /// Clears a stop once the worker has ended, so it can be started again.
    pub fn reopen(&self) {
        self.inner.stopping.store(false, Ordering::SeqCst);
    }

    /// Whether the worker was asked to stop.
    pub fn is_stopping(&self) -> bool {
        self.inner.stopping.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt;

    use super::*;

    #[test]
    fn a_ring_while_busy_is_kept_for_the_next_wait() {
        let bell = Doorbell::default();
        assert!(bell.rung().now_or_never().is_none(), "not rung yet");
        bell.clone().ring();
        assert!(
            bell.rung().now_or_never().is_some(),
            "the ring sent before the wait is not lost"
        );
    }

    #[test]
    fn asking_to_stop_is_seen_by_every_clone() {
        let bell = Doorbell::default();
        let worker = bell.clone();
        assert!(!worker.is_stopping());
        bell.ask_to_stop();
        assert!(worker.is_stopping());
    }
}
