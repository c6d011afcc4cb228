//! Cold-start floor of `make bench`: the hello-world of `floor_hello` that first loads the AWS
//! configuration the functions load and builds the SDK clients they use, and calls nothing.

use lambda_http::{Body, Request, Response};
use std::convert::Infallible;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let aws = capecontrol_shared::state::load_aws_config().await;
    // Kept for the process's life, as the functions keep their state.
    let clients: &'static _ = Box::leak(Box::new((
        aws_sdk_dynamodb::Client::new(&aws),
        aws_sdk_secretsmanager::Client::new(&aws),
        aws_sdk_sesv2::Client::new(&aws),
    )));
    lambda_http::run(lambda_http::service_fn(move |_: Request| async move {
        let _built = clients;
        Ok::<_, Infallible>(Response::new(Body::from("hello")))
    }))
    .await
}
