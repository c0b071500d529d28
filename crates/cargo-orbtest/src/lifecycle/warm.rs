//! Image warm-up. OrbStack has no image pull: an image is cached by creating a machine from it.
//! So, once per provider, each listed image gets a throwaway machine, created and deleted,
//! unless a baseline already covers the image.

use super::state::{ProviderState, now_ms};
use orbtest_machines::{Client, Journal, Op};

/// Warms what needs warming; returns the images warmed now.
pub fn warm(
    client: &Client,
    journal: &Journal,
    state: &ProviderState,
    images: &[String],
    covered: &std::collections::BTreeMap<String, String>,
) -> Result<Vec<String>, String> {
    let mut warmed = state.warmed();
    let mut done = Vec::new();
    for image in images {
        if covered.contains_key(image) || warmed.contains_key(image) {
            continue;
        }
        let name = format!("orbtest-warm-{}", super::provider::short_hash(image));
        journal
            .own(&name)
            .map_err(|e| format!("cannot journal `{name}`: {e}"))?;
        let create = Op::create(image, &name);
        client
            .execute(&create)
            .and_then(|r| r.into_result())
            .map_err(|e| format!("warming {image}: {e}"))?;
        client
            .execute(&Op::delete(&name))
            .and_then(|r| r.into_result())
            .map_err(|e| format!("deleting the warm-up machine `{name}`: {e}"))?;
        let _ = journal.release(&name, "warm-up done");
        warmed.insert(image.clone(), now_ms());
        state
            .set_warmed(&warmed)
            .map_err(|e| format!("cannot record warmed images: {e}"))?;
        done.push(image.clone());
    }
    Ok(done)
}
