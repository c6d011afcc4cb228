//! One purge run against the table the environment names (`make purge`: the local stack).

use capecontrol_shared::erasure::Budget;
use capecontrol_shared::state::AppState;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    capecontrol_shared::telemetry::init();
    let state = AppState::from_env().await?;
    purge::run(&state, Budget::time(purge::RUN_BUDGET)).await?;
    Ok(())
}
