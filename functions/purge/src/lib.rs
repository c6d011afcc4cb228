//! The scheduled purge: finishes the erasure of every deleted account whose `DELETE /users/me`
//! ran out of its time budget (or failed halfway), resuming from the tombstones
//! ([`capecontrol_shared::erasure`]). Every step is idempotent, so a run cut short by its own
//! budget or by the Lambda timeout is simply continued by the next one.

use capecontrol_shared::erasure::{self, Budget};
use capecontrol_shared::state::AppState;
use std::time::Duration;

/// Work per run: well inside the function's timeout (template.yaml), so a run ends itself.
pub const RUN_BUDGET: Duration = Duration::from_secs(45);

/// Purges pending accounts within `budget`; the number completed.
pub async fn run(state: &AppState, budget: Budget) -> anyhow::Result<usize> {
    let completed = erasure::purge_pending(state, budget).await?;
    let left = erasure::pending(state, 1).await?.len();
    tracing::info!(
        completed,
        more_pending = left > 0,
        event = "purge_run",
        "purge run"
    );
    Ok(completed)
}
