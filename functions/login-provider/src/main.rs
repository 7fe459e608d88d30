//! One function's own binary, as `cargo lambda watch` serves each locally; deployed, the
//! `bootstrap` binary runs it by name. See [`login_provider::run`].

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    login_provider::run().await
}
