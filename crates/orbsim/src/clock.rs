//! Simulated time: seconds since the state directory's epoch, divided by the time scale.
//!
//! Every process derives "now" from the wall clock and the epoch stored in the state, so there is
//! no daemon process: a machine "finishes" when simulated time passes its completion time,
//! whoever looks next.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::scenario::SimSecs;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    epoch_unix_ns: u128,
    scale: f64,
}

pub(crate) fn unix_ns_now() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

impl Clock {
    pub(crate) fn new(epoch_unix_ns: u128, scale: f64) -> Clock {
        Clock { epoch_unix_ns, scale }
    }

    pub(crate) fn now(&self) -> SimSecs {
        let real = unix_ns_now().saturating_sub(self.epoch_unix_ns) as f64 / 1e9;
        real / self.scale
    }

    /// The real time a simulated span takes.
    pub(crate) fn real(&self, span: SimSecs) -> Duration {
        Duration::from_secs_f64((span.max(0.0) * self.scale).min(1e9))
    }

    /// Sleeps until simulated time `t` (returns at once if it has passed).
    pub(crate) fn sleep_until(&self, t: SimSecs) {
        loop {
            let now = self.now();
            if now >= t {
                return;
            }
            std::thread::sleep(self.real(t - now).max(Duration::from_micros(50)));
        }
    }
}
