//! The `main` of every function: logs, state built once per cold start, then the Lambda loop.

use lambda_http::{Body, Request, Response};
use std::convert::Infallible;
use std::future::Future;
use tracing::Instrument;

use crate::request_meta::request_id;
use crate::state::AppState;
use crate::telemetry;

/// Serves `handler` until the runtime stops. A handler answers every request itself (errors
/// included), so the runtime never sees a failed invocation for bad input.
pub async fn serve<F, Fut>(handler: F) -> Result<(), lambda_http::Error>
where
    F: Fn(&'static AppState, Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response<Body>> + Send,
{
    serve_with(|_| {}, handler).await
}

/// Like [`serve`], calling `on_start` once the state exists and before the first request.
pub async fn serve_with<S, F, Fut>(on_start: S, handler: F) -> Result<(), lambda_http::Error>
where
    S: FnOnce(&'static AppState),
    F: Fn(&'static AppState, Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response<Body>> + Send,
{
    telemetry::init();
    let state: &'static AppState = Box::leak(Box::new(AppState::from_env().await?));
    on_start(state);
    let handler: &'static F = Box::leak(Box::new(handler));
    lambda_http::run(lambda_http::service_fn(move |request: Request| {
        // Every log line of the request carries the id its response sends as x-request-id.
        let span = tracing::info_span!("request", request_id = %request_id(&request));
        async move { Ok::<_, Infallible>(handler(state, request).await) }.instrument(span)
    }))
    .await
}
