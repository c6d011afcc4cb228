#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    capecontrol_shared::runtime::serve(account::handle).await
}
