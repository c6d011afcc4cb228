//! The scheduled purge: finishes the erasure of every deleted account whose `DELETE /users/me`
//! ran out of its time budget (or failed halfway), resuming from the tombstones
//! ([`capecontrol_shared::erasure`]). Every step is idempotent, so a run cut short by its own
//! budget or by the Lambda timeout is simply continued by the next one.

use capecontrol_shared::erasure::{self, Budget, PurgeRun};
use capecontrol_shared::state::AppState;
use std::time::Duration;

/// Work per run: well inside the function's timeout (template.yaml), so a run ends itself.
pub const RUN_BUDGET: Duration = Duration::from_secs(45);

/// Purges pending accounts within `budget`. A run in which some purge failed is an error (so
/// the invocation counts as failed and can be alarmed on) after the others were done.
pub async fn run(state: &AppState, budget: Budget) -> anyhow::Result<PurgeRun> {
    let run = erasure::purge_pending(state, budget).await?;
    let left = erasure::pending(state, 1).await?.len();
    tracing::info!(
        completed = run.completed,
        failed = run.failed,
        more_pending = left > 0,
        event = "purge_run",
        "purge run"
    );
    if run.failed > 0 {
        anyhow::bail!("{} of the pending purges failed (logged above)", run.failed);
    }
    Ok(run)
}
