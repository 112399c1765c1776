//! The state's writer thread: it owns the connection and runs every job, committing the jobs
//! that wait together in one transaction, each in a savepoint of its own.

use super::StateError;
use rusqlite::{Connection, TransactionBehavior};
use std::path::PathBuf;
use std::sync::mpsc;

/// One job on the writer thread.
pub(super) trait Job: Send {
    /// Runs the work in a savepoint of the writer's transaction (a job that fails is rolled
    /// back alone) and says what to tell its owner once that transaction is committed or not.
    fn run(self: Box<Self>, t: &mut rusqlite::Transaction<'_>) -> Finish;
    /// Tells the owner the work never ran: the transaction could not begin.
    fn abandon(self: Box<Self>, why: &str);
}

/// A job as the writer's queue holds it.
pub(super) type QueuedJob = Box<dyn Job>;

/// Tells a job's owner how its transaction ended: `None` committed, `Some` why not.
type Finish = Box<dyn FnOnce(Option<&str>) + Send>;

/// Jobs committed together at most: the writer takes every job waiting, up to this many, into
/// one transaction. With `synchronous = FULL` a commit is a sync of the disk; one per job capped
/// an outage of 100,000 targets at a few hundred alert changes a second.
const MAX_JOBS_PER_COMMIT: usize = 256;

/// The writer thread's loop: takes every job waiting (up to [`MAX_JOBS_PER_COMMIT`]) and commits
/// them together, until the last sender is gone.
pub(super) fn run(mut conn: Connection, rx: mpsc::Receiver<QueuedJob>) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        while jobs.len() < MAX_JOBS_PER_COMMIT {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        commit_together(&mut conn, jobs);
    }
}

/// Runs `job` in a savepoint of `t`: kept when it succeeds, rolled back when it fails.
fn in_savepoint<R>(
    t: &mut rusqlite::Transaction<'_>,
    job: impl FnOnce(&Connection) -> rusqlite::Result<R>,
) -> rusqlite::Result<R> {
    let savepoint = t.savepoint()?;
    let r = job(&savepoint)?;
    savepoint.commit()?;
    Ok(r)
}

/// Runs `jobs` in one transaction and commits it once, then tells each job's owner.
fn commit_together(conn: &mut Connection, jobs: Vec<QueuedJob>) {
    let mut t = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(t) => t,
        Err(e) => {
            let why = e.to_string();
            for job in jobs {
                job.abandon(&why);
            }
            return;
        }
    };
    let finishes: Vec<Finish> = jobs.into_iter().map(|job| job.run(&mut t)).collect();
    let failed = t.commit().err().map(|e| e.to_string());
    for finish in finishes {
        finish(failed.as_deref());
    }
}

/// A job whose owner waits for its commit ([`StateDb::transaction`]).
pub(super) struct Awaited<F, R> {
    pub(super) job: F,
    pub(super) tx: tokio::sync::oneshot::Sender<Result<R, StateError>>,
    pub(super) path: PathBuf,
}

impl<F, R> Job for Awaited<F, R>
where
    F: FnOnce(&Connection) -> rusqlite::Result<R> + Send,
    R: Send + 'static,
{
    fn run(self: Box<Self>, t: &mut rusqlite::Transaction<'_>) -> Finish {
        let Awaited { job, tx, path } = *self;
        match in_savepoint(t, job) {
            Ok(r) => Box::new(move |failed: Option<&str>| {
                let outcome = match failed {
                    None => Ok(r),
                    Some(why) => Err(StateError::Commit {
                        path,
                        message: why.to_string(),
                    }),
                };
                let _ = tx.send(outcome);
            }),
            Err(source) => {
                let _ = tx.send(Err(StateError::Sql { path, source }));
                Box::new(|_: Option<&str>| {})
            }
        }
    }

    fn abandon(self: Box<Self>, why: &str) {
        let _ = self.tx.send(Err(StateError::Commit {
            path: self.path,
            message: why.to_string(),
        }));
    }
}

/// A job nobody waits for ([`StateDb::submit`]): a failure is logged and counted.
pub(super) struct Submitted<F> {
    pub(super) job: F,
    pub(super) table: &'static str,
    pub(super) path: PathBuf,
}

impl<F> Job for Submitted<F>
where
    F: FnOnce(&Connection) -> rusqlite::Result<()> + Send,
{
    fn run(self: Box<Self>, t: &mut rusqlite::Transaction<'_>) -> Finish {
        let Submitted { job, table, path } = *self;
        match in_savepoint(t, job) {
            Ok(()) => Box::new(move |failed: Option<&str>| {
                if let Some(why) = failed {
                    let e = StateError::Commit {
                        path,
                        message: why.to_string(),
                    };
                    crate::events::state_write_failed(table, &e);
                }
            }),
            Err(source) => {
                crate::events::state_write_failed(table, &StateError::Sql { path, source });
                Box::new(|_: Option<&str>| {})
            }
        }
    }

    fn abandon(self: Box<Self>, why: &str) {
        let e = StateError::Commit {
            path: self.path,
            message: why.to_string(),
        };
        crate::events::state_write_failed(self.table, &e);
    }
}
