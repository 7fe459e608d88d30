//! Lambda entry point: everything is built once per cold start, then requests are served.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    auth_shared::http::serve(me::handle).await
}
