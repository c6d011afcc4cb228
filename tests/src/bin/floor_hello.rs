//! Cold-start floor of `make bench`: a lambda_http hello-world built with the functions'
//! profile. It answers every event with 200 "hello" and loads nothing.

use lambda_http::{Body, Request, Response};
use std::convert::Infallible;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::run(lambda_http::service_fn(|_: Request| async {
        Ok::<_, Infallible>(Response::new(Body::from("hello")))
    }))
    .await
}
