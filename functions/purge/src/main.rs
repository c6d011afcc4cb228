use capecontrol_shared::erasure::Budget;
use capecontrol_shared::state::AppState;
use lambda_runtime::{service_fn, LambdaEvent};

/// Invoked by the EventBridge schedule; the event's content is not used.
#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    capecontrol_shared::telemetry::init();
    let state: &'static AppState = Box::leak(Box::new(AppState::from_env().await?));
    lambda_runtime::run(service_fn(
        move |_: LambdaEvent<serde_json::Value>| async move {
            let run = purge::run(state, Budget::time(purge::RUN_BUDGET)).await?;
            Ok::<_, lambda_runtime::Error>(serde_json::json!({ "completed": run.completed }))
        },
    ))
    .await
}
