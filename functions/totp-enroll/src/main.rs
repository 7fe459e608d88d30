//! One function's own binary, as `cargo lambda watch` serves each locally; deployed, the
//! `bootstrap` binary runs it by name. See [`totp_enroll::run`].

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    totp_enroll::run().await
}
