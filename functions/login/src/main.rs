#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    capecontrol_shared::runtime::serve_with(login::on_start, login::handle).await
}
