//! A provider as a run uses it, whichever it is (`provider` picks it; `docker` makes the
//! Docker one).

use std::path::PathBuf;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::state::ProviderState;
use crate::config::ProviderKind;
use orbtest_machines::OrbctlProvider;

#[derive(Debug, Clone)]
pub struct ResolvedProvider {
    pub kind: ProviderKind,
    pub provider: Arc<OrbctlProvider>,
    /// orbtest's state for this provider (run lock, journals, baselines).
    pub state: ProviderState,
    /// The orbctl that tests reach: the real binary, or the simulator's.
    pub orbctl: PathBuf,
    /// Its `orb` counterpart.
    pub orb: PathBuf,
    /// Environment tests need to reach it (orbsim's state and scenario).
    pub env: Vec<(String, String)>,
    /// For messages: "orbstack (/usr/local/bin/orbctl)", "orbsim (state /x)".
    pub description: String,
}

/// A short, stable name for `text` (a path, an endpoint): the first 6 bytes of its SHA-256.
pub(crate) fn short_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
}
