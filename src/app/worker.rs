//! What every background worker (ingest, actions, relayer, voting, policy, reconciliation) shares
//! with its callers: a wake-up that is never lost, a stop flag, and the task that shutdown waits for.

use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// A worker's controls.
#[derive(Default)]
pub struct WorkerControls {
    wake: Notify,
    stopping: AtomicBool,
    task: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl WorkerControls {
    /// Asks the worker to look for work now (a wake-up sent while it is busy is kept).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Waits for the next wake-up.
    pub async fn woken(&self) {
        self.wake.notified().await;
    }

    /// Whether the worker should finish its current step and return.
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Keeps the worker's task, for [`stop`](Self::stop) to wait for.
    pub fn hold(&self, task: JoinHandle<()>) {
        *self.task.lock().expect("not poisoned") = Some(task);
    }

    /// Stops the worker after its current step and waits for it.
    pub async fn stop(&self) {
        self.end(false).await;
    }

    /// Stops the worker at once, mid-step: for workers whose every step is safe to cut short
    /// (stored intents found again, transactional state) and may wait long on a platform.
    pub async fn abort(&self) {
        self.end(true).await;
    }

    async fn end(&self, abort: bool) {
        self.stopping.store(true, Ordering::SeqCst);
        self.wake.notify_one();
        let task = self.task.lock().expect("not poisoned").take();
        if let Some(task) = task {
            if abort {
                task.abort();
            }
            let _ = task.await;
        }
    }
}
