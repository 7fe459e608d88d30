//! One function's own binary, as `cargo lambda watch` serves each locally; deployed, the
//! `bootstrap` binary runs it by name. See [`oauth_start::run`].

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    oauth_start::run().await
}
