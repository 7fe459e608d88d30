//! One function's own binary, as `cargo lambda watch` serves each locally; deployed, the
//! `bootstrap` binary runs it by name. See [`passkey_add::run`].

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    passkey_add::run().await
}
