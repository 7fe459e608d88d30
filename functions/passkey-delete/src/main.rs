//! One function's own binary, as `cargo lambda watch` serves each locally; deployed, the
//! `bootstrap` binary runs it by name. See [`passkey_delete::run`].

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    passkey_delete::run().await
}
