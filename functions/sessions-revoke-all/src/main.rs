//! One function's own binary, as `cargo lambda watch` serves each locally; deployed, the
//! `bootstrap` binary runs it by name. See [`sessions_revoke_all::run`].

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    sessions_revoke_all::run().await
}
