//! One function's own binary, as `cargo lambda watch` serves each locally; deployed, the
//! `bootstrap` binary runs it by name. See [`resend_code::run`].

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    resend_code::run().await
}
