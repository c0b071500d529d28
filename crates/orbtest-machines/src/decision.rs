//! The retry decision, as a pure function: given the operation, the attempt number, how the
//! attempt ended, what looking afterwards found, and the retry policy, it says how the attempt
//! counts and whether the call retries (after which wait), recovers, or gives up.
//! [`crate::client::Client`] runs attempts and looks; this module only decides, and names
//! the outcomes of a call and of an attempt.

use std::time::Duration;

use orbctl::errors::ErrorKind;
use orbctl::op::{Op, OpClass};

use crate::policy::Retry;

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    /// An attempt timed out or hit `already exists`, and the machine we asked for was then
    /// verified (running for create; settled for clone/import; gone for delete).
    Recovered,
    Failed(ErrorKind),
    TimedOut,
    /// The `status` probe after a timeout said OrbStack is stopped or did not answer in time.
    OrbStackDown,
}

/// What happened to one attempt, as the observer hears it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    Succeeded,
    Failed(ErrorKind),
    TimedOut,
    /// This attempt timed out or hit `already exists`, and the machine was then verified.
    Recovered,
    OrbStackDown,
}

/// How an attempt's orbctl child ended, before anything was looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AttemptEnd {
    /// Still running after its machine was finished (hanging after success), and stopped.
    SettledWhileHanging,
    /// Killed at its class's timeout.
    TimedOut,
    /// Died by a signal (the OOM killer, a crash): its effect is unknown.
    Killed,
    /// Exit code 0.
    Succeeded,
    /// A non-zero exit, classified from its output.
    Failed(ErrorKind),
}

/// What to look at before deciding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Look {
    Nothing,
    /// `orbctl status` first (down ends the call), then [`Look::Result`].
    ProbeThenResult,
    /// Whether what the call asks for happened anyway (`info` of the machine).
    Result,
}

/// What looking found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Looked {
    /// Nothing was looked at.
    Nothing,
    /// The status probe says OrbStack is stopped or unresponsive.
    Down,
    /// What the call asked for is there (created and finished, or deleted).
    Done,
    /// It is not (absent, still pending when the wait ran out, or not checkable).
    NotDone,
}

/// What to do after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    Finish(Outcome),
    Retry { after: Duration },
}

/// How the attempt counts (for the observer) and what comes next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Decision {
    pub(crate) attempt: AttemptOutcome,
    pub(crate) next: Next,
}

/// What must be looked at before [`decide`] can tell. `killed_before`: an earlier attempt of
/// this call timed out or was killed, so its effect may be why this one failed.
pub(crate) fn check_for(op: &Op, ended: AttemptEnd, killed_before: bool) -> Look {
    match ended {
        AttemptEnd::TimedOut => Look::ProbeThenResult,
        AttemptEnd::Killed => Look::Result,
        AttemptEnd::Failed(kind) if ours_already(op, kind, killed_before) => Look::Result,
        _ => Look::Nothing,
    }
}

/// The decision. `attempt` is 1 for the first attempt; the wait before a retry follows the
/// policy's backoff for that retry.
pub(crate) fn decide(
    op: &Op,
    attempt: u32,
    ended: AttemptEnd,
    killed_before: bool,
    looked: Looked,
    retry: &Retry,
) -> Decision {
    let retries_left = attempt < retry.attempts.max(1);
    let again = Next::Retry {
        after: retry.delay_before(attempt),
    };
    let verdict = |attempt, next| Decision { attempt, next };
    let recovered = verdict(AttemptOutcome::Recovered, Next::Finish(Outcome::Recovered));
    match ended {
        // Done while its client hung on: nothing to wait for, nothing to repeat.
        AttemptEnd::SettledWhileHanging => recovered,
        AttemptEnd::Succeeded => verdict(AttemptOutcome::Succeeded, Next::Finish(Outcome::Succeeded)),
        AttemptEnd::TimedOut => match looked {
            Looked::Down => verdict(AttemptOutcome::OrbStackDown, Next::Finish(Outcome::OrbStackDown)),
            Looked::Done => recovered,
            Looked::Nothing | Looked::NotDone => {
                let next = if retries_left && safe_to_repeat(op) {
                    again
                } else {
                    Next::Finish(Outcome::TimedOut)
                };
                verdict(AttemptOutcome::TimedOut, next)
            }
        },
        // Like a timeout, its effect is unknown and the daemon may still carry it out.
        AttemptEnd::Killed => match looked {
            Looked::Done => recovered,
            _ => {
                let kind = ErrorKind::Other;
                let next = if retries_left && safe_to_repeat(op) {
                    again
                } else {
                    Next::Finish(Outcome::Failed(kind))
                };
                verdict(AttemptOutcome::Failed(kind), next)
            }
        },
        // `already exists` / `not found` after our own killed attempt: verified, it is ours.
        AttemptEnd::Failed(kind) if ours_already(op, kind, killed_before) => match looked {
            Looked::Done => recovered,
            _ => {
                let next = if retries_left {
                    again
                } else {
                    Next::Finish(Outcome::Failed(kind))
                };
                verdict(AttemptOutcome::Failed(kind), next)
            }
        },
        AttemptEnd::Failed(kind) => {
            let next = if kind.is_retryable() && retries_left && !matches!(op, Op::Run { .. }) {
                again
            } else {
                Next::Finish(Outcome::Failed(kind))
            };
            verdict(AttemptOutcome::Failed(kind), next)
        }
    }
}

/// A failure that our own earlier, killed attempt explains: it made the machine (`already
/// exists` on a create) or deleted it (`not found` on a single delete).
fn ours_already(op: &Op, kind: ErrorKind, killed_before: bool) -> bool {
    killed_before
        && ((kind == ErrorKind::AlreadyExists && op.class() == OpClass::Create)
            || (kind == ErrorKind::NotFound && is_single_delete(op)))
}

/// Whether an attempt that was killed part-way may simply be issued again. A command run in
/// a machine, a rename (the old name may be gone) and commands we do not model may not.
fn safe_to_repeat(op: &Op) -> bool {
    !matches!(
        op,
        Op::Run { .. } | Op::Rename { .. } | Op::Other { .. } | Op::Help { .. }
    )
}

pub(crate) fn is_single_delete(op: &Op) -> bool {
    matches!(op, Op::Delete { names, all: false, .. } if names.len() == 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Backoff;

    fn op(argv: &str) -> Op {
        let argv: Vec<String> = argv.split_whitespace().map(str::to_string).collect();
        orbctl::argv::parse(orbctl::Flavor::Orbctl, &argv).unwrap_or_else(|e| panic!("{argv:?}: {}", e.stderr))
    }

    fn policy(attempts: u32) -> Retry {
        Retry {
            attempts,
            delay: Duration::from_secs(2),
            backoff: Backoff::Exponential,
        }
    }

    const fn after(secs: u64) -> Next {
        Next::Retry {
            after: Duration::from_secs(secs),
        }
    }

    /// what, argv, attempt, ended, killed before, looked, attempt counts as, next.
    type Row = (
        &'static str,
        &'static str,
        u32,
        AttemptEnd,
        bool,
        Looked,
        AttemptOutcome,
        Next,
    );

    #[test]
    fn the_decision_table() {
        use AttemptOutcome as A;
        use ErrorKind as K;
        use Outcome as O;
        let fin = Next::Finish;
        #[rustfmt::skip]
        let table: &[Row] = &[
            ("success", "create ubuntu t1", 1, AttemptEnd::Succeeded, false, Looked::Nothing, A::Succeeded, fin(O::Succeeded)),
            ("hang after success", "create ubuntu t1", 1, AttemptEnd::SettledWhileHanging, false, Looked::Nothing, A::Recovered, fin(O::Recovered)),
            ("timeout, daemon down", "create ubuntu t1", 1, AttemptEnd::TimedOut, false, Looked::Down, A::OrbStackDown, fin(O::OrbStackDown)),
            ("timeout, machine there", "create ubuntu t1", 1, AttemptEnd::TimedOut, false, Looked::Done, A::Recovered, fin(O::Recovered)),
            ("timeout, not there: retry", "create ubuntu t1", 1, AttemptEnd::TimedOut, false, Looked::NotDone, A::TimedOut, after(2)),
            ("timeout, backoff doubles", "create ubuntu t1", 3, AttemptEnd::TimedOut, false, Looked::NotDone, A::TimedOut, after(8)),
            ("timeout, last attempt", "create ubuntu t1", 4, AttemptEnd::TimedOut, false, Looked::NotDone, A::TimedOut, fin(O::TimedOut)),
            ("timeout of run: never repeated", "run -m t1 true", 1, AttemptEnd::TimedOut, false, Looked::Nothing, A::TimedOut, fin(O::TimedOut)),
            ("timeout of rename: never repeated", "rename a b", 1, AttemptEnd::TimedOut, false, Looked::Nothing, A::TimedOut, fin(O::TimedOut)),
            ("killed, machine there", "clone base t1", 1, AttemptEnd::Killed, false, Looked::Done, A::Recovered, fin(O::Recovered)),
            ("killed, not there: retry", "clone base t1", 1, AttemptEnd::Killed, false, Looked::NotDone, A::Failed(K::Other), after(2)),
            ("killed run: never repeated", "run -m t1 true", 1, AttemptEnd::Killed, false, Looked::Nothing, A::Failed(K::Other), fin(O::Failed(K::Other))),
            ("transient: retry", "create ubuntu t1", 1, AttemptEnd::Failed(K::Transient), false, Looked::Nothing, A::Failed(K::Transient), after(2)),
            ("daemon stopping: retry", "stop t1", 2, AttemptEnd::Failed(K::DaemonStopping), false, Looked::Nothing, A::Failed(K::DaemonStopping), after(4)),
            ("transient, last attempt", "create ubuntu t1", 4, AttemptEnd::Failed(K::Transient), false, Looked::Nothing, A::Failed(K::Transient), fin(O::Failed(K::Transient))),
            ("transient in run: the command's own", "run -m t1 true", 1, AttemptEnd::Failed(K::Transient), false, Looked::Nothing, A::Failed(K::Transient), fin(O::Failed(K::Transient))),
            ("invalid input: never retried", "create ubuntu BAD_", 1, AttemptEnd::Failed(K::InvalidInput), false, Looked::Nothing, A::Failed(K::InvalidInput), fin(O::Failed(K::InvalidInput))),
            ("exists on a first attempt: someone else's", "create ubuntu t1", 1, AttemptEnd::Failed(K::AlreadyExists), false, Looked::Nothing, A::Failed(K::AlreadyExists), fin(O::Failed(K::AlreadyExists))),
            ("exists after our timeout, verified", "create ubuntu t1", 2, AttemptEnd::Failed(K::AlreadyExists), true, Looked::Done, A::Recovered, fin(O::Recovered)),
            ("exists after our timeout, not verified", "create ubuntu t1", 2, AttemptEnd::Failed(K::AlreadyExists), true, Looked::NotDone, A::Failed(K::AlreadyExists), after(4)),
            ("not found after our killed delete, verified", "delete -f t1", 2, AttemptEnd::Failed(K::NotFound), true, Looked::Done, A::Recovered, fin(O::Recovered)),
            ("not found on a first delete", "delete -f t1", 1, AttemptEnd::Failed(K::NotFound), false, Looked::Nothing, A::Failed(K::NotFound), fin(O::Failed(K::NotFound))),
        ];
        for &(what, argv, attempt, ended, killed_before, looked, counts, next) in table {
            let op = op(argv);
            let verdict = decide(&op, attempt, ended, killed_before, looked, &policy(4));
            assert_eq!(verdict, Decision { attempt: counts, next }, "{what}");
        }
    }

    #[test]
    fn what_is_looked_at() {
        let create = op("create ubuntu t1");
        let delete = op("delete -f t1");
        let two = op("delete -f t1 t2");
        assert_eq!(check_for(&create, AttemptEnd::TimedOut, false), Look::ProbeThenResult);
        assert_eq!(check_for(&create, AttemptEnd::Killed, false), Look::Result);
        assert_eq!(check_for(&create, AttemptEnd::Succeeded, true), Look::Nothing);
        assert_eq!(
            check_for(&create, AttemptEnd::Failed(ErrorKind::AlreadyExists), false),
            Look::Nothing
        );
        assert_eq!(
            check_for(&create, AttemptEnd::Failed(ErrorKind::AlreadyExists), true),
            Look::Result
        );
        assert_eq!(
            check_for(&delete, AttemptEnd::Failed(ErrorKind::NotFound), true),
            Look::Result
        );
        assert_eq!(
            check_for(&two, AttemptEnd::Failed(ErrorKind::NotFound), true),
            Look::Nothing
        );
        assert_eq!(
            check_for(&create, AttemptEnd::Failed(ErrorKind::Transient), true),
            Look::Nothing
        );
    }

    #[test]
    fn one_attempt_means_no_retry_at_all() {
        let create = op("create ubuntu t1");
        for ended in [
            AttemptEnd::TimedOut,
            AttemptEnd::Killed,
            AttemptEnd::Failed(ErrorKind::Transient),
        ] {
            let v = decide(&create, 1, ended, false, Looked::NotDone, &policy(1));
            assert!(matches!(v.next, Next::Finish(_)), "{ended:?}: {v:?}");
        }
    }
}
