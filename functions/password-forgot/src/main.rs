//! One function's own binary, as `cargo lambda watch` serves each locally; deployed, the
//! `bootstrap` binary runs it by name. See [`password_forgot::run`].

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    password_forgot::run().await
}
