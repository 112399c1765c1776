//! The thread scheduled checks run on.
//!
//! A scheduled check is a chain of short steps (connect, a line, a handshake flight, a line…),
//! each one waiting on the network, and at a hundred checks a second each runs alone. On the
//! multi-threaded runtime every check's new task woke the other, sleeping worker to steal it: a
//! futex wake-up per check, and a check that moved cores and found its caches cold. Here the
//! scheduler, the checks it starts and their bookkeeping run on one thread of their own (a
//! current-thread runtime with its own timer and I/O driver), which no other work wakes. The
//! HTTP side (`/metrics`, `/probe`, the API), the alert ticker and the webhook deliverer stay on
//! the multi-threaded runtime, so a burst of `/probe` scrapes does not share workers with
//! scheduled checks either.
//!
//! One thread carries over a thousand TLS checks a second (about 0.8 ms of CPU each, see
//! BENCHMARKS.md) and far more port checks;
//! `mailbeat_scheduler_lag_seconds` shows when it falls behind.

use std::future::Future;
use tokio::runtime::Handle;
use tokio::sync::oneshot;

/// A thread running a current-thread runtime until this is dropped.
pub struct CheckThread {
    handle: Handle,
    /// Dropped with the owner: the thread's `block_on` returns and its runtime cancels what
    /// still runs there.
    _stop: oneshot::Sender<()>,
}

impl CheckThread {
    /// Starts the thread and its runtime.
    pub fn start() -> std::io::Result<Self> {
        let (stop, stopped) = oneshot::channel::<()>();
        let (ready, handle) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("mailbeat-checks".into())
            .spawn(move || {
                // Built and dropped on this thread: a runtime dropped inside another's task
                // would panic.
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                match runtime {
                    Ok(rt) => {
                        let _ = ready.send(Ok(rt.handle().clone()));
                        let _ = rt.block_on(stopped);
                    }
                    Err(e) => {
                        let _ = ready.send(Err(e));
                    }
                }
            })?;
        // The thread answers at once (it only builds the runtime).
        let handle = handle.recv().map_err(|_| {
            std::io::Error::other("the check thread ended before its runtime ran")
        })??;
        Ok(CheckThread {
            handle,
            _stop: stop,
        })
    }

    /// Runs `future` on the thread; what it spawns with `tokio::spawn` runs there too.
    pub fn spawn<F>(&self, future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.handle.spawn(future);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_future_and_what_it_spawns_run_on_the_check_thread_and_stop_with_it() {
        let thread = CheckThread::start().unwrap();
        let (tx, rx) = oneshot::channel();
        thread.spawn(async move {
            let inner = tokio::spawn(async { std::thread::current().name().map(str::to_string) });
            let _ = tx.send(inner.await.ok().flatten());
        });
        assert_eq!(rx.await.unwrap().as_deref(), Some("mailbeat-checks"));

        // Dropped: the runtime goes, and with it a task that would otherwise run for ever.
        let (alive, gone) = oneshot::channel::<()>();
        thread.spawn(async move {
            let _alive = alive;
            std::future::pending::<()>().await;
        });
        drop(thread);
        assert!(
            tokio::time::timeout(std::time::Duration::from_secs(10), gone)
                .await
                .expect("the task was not dropped with the thread")
                .is_err(),
            "the task ended by being dropped, not by sending"
        );
    }
}
