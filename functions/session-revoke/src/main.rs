//! One function's own binary, as `cargo lambda watch` serves each locally; deployed, the
//! `bootstrap` binary runs it by name. See [`session_revoke::run`].

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    session_revoke::run().await
}
