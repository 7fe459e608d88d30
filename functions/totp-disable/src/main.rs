//! One function's own binary, as `cargo lambda watch` serves each locally; deployed, the
//! `bootstrap` binary runs it by name. See [`totp_disable::run`].

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    totp_disable::run().await
}
