//! A bounded pool for machine operations that may overlap (deleting leftovers, making
//! workers): at most `parallelism` at once, each item handed out once, results in input order.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Runs `f` on each item, `parallelism` threads at a time. Once `stop` says so (an interrupt),
/// no further item is started; those left out are `None`.
pub(crate) fn map_bounded<T: Sync, R: Send>(
    items: &[T],
    parallelism: usize,
    stop: impl Fn() -> bool + Sync,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<Option<R>> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new(items.iter().map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..parallelism.clamp(1, items.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(item) = items.get(i) else { break };
                    if stop() {
                        break;
                    }
                    let r = f(item);
                    results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(r);
                }
            });
        }
    });
    results.into_inner().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_input_order_and_never_exceed_the_bound() {
        let running = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        let items: Vec<u64> = (0..40).collect();
        let out = map_bounded(
            &items,
            3,
            || false,
            |&n| {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                std::thread::yield_now();
                running.fetch_sub(1, Ordering::SeqCst);
                n * 2
            },
        );
        assert_eq!(out, items.iter().map(|n| Some(n * 2)).collect::<Vec<_>>());
        assert!(peak.load(Ordering::SeqCst) <= 3);
    }

    #[test]
    fn nothing_more_starts_once_stopped() {
        let done = AtomicUsize::new(0);
        let out = map_bounded(
            &[1, 2, 3, 4],
            1,
            || done.load(Ordering::SeqCst) >= 2,
            |_| {
                done.fetch_add(1, Ordering::SeqCst);
            },
        );
        assert_eq!(out.iter().filter(|r| r.is_some()).count(), 2);
    }
}
