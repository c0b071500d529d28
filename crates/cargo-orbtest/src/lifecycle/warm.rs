//! Image warm-up. OrbStack has no image pull: an image is cached by creating a machine from it.
//! So, once per provider, each listed image gets a throwaway machine, created and deleted,
//! unless a baseline already covers the image.

use super::state::{ProviderState, now_ms};
use orbtest_machines::{Client, Journal, MachinesError, Op};

/// Why warming an image failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WarmError {
    #[error("cannot journal `{machine}`: {source}")]
    Journal {
        machine: String,
        #[source]
        source: std::io::Error,
    },
    #[error("warming {image}: {source}")]
    Create {
        image: String,
        #[source]
        source: MachinesError,
    },
    #[error("deleting the warm-up machine `{machine}`: {source}")]
    Delete {
        machine: String,
        #[source]
        source: MachinesError,
    },
    #[error("cannot record warmed images: {0}")]
    Record(#[source] std::io::Error),
}

/// Warms what needs warming; returns the images warmed now.
pub(crate) fn warm(
    client: &Client,
    journal: &Journal,
    state: &ProviderState,
    images: &[String],
    covered: &std::collections::BTreeMap<String, String>,
) -> Result<Vec<String>, WarmError> {
    let mut warmed = state.warmed();
    let mut done = Vec::new();
    for image in images {
        if covered.contains_key(image) || warmed.contains_key(image) {
            continue;
        }
        let name = format!("orbtest-warm-{}", super::resolved::short_hash(image));
        journal.own(&name).map_err(|source| WarmError::Journal {
            machine: name.clone(),
            source,
        })?;
        let create = Op::create(image, &name);
        client
            .execute(&create)
            .and_then(|r| r.into_result())
            .map_err(|source| WarmError::Create {
                image: image.clone(),
                source,
            })?;
        client
            .execute(&Op::delete(&name))
            .and_then(|r| r.into_result())
            .map_err(|source| WarmError::Delete {
                machine: name.clone(),
                source,
            })?;
        let _ = journal.release(&name, "warm-up done");
        warmed.insert(image.clone(), now_ms());
        state.set_warmed(&warmed).map_err(WarmError::Record)?;
        done.push(image.clone());
    }
    Ok(done)
}
