//! One function's own binary, as `cargo lambda watch` serves each locally; deployed, the
//! `bootstrap` binary runs it by name. See [`provider_link::run`].

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    provider_link::run().await
}
