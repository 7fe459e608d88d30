//! One function's own binary, as `cargo lambda watch` serves each locally; deployed, the
//! `bootstrap` binary runs it by name. See [`provider_unlink::run`].

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    provider_unlink::run().await
}
