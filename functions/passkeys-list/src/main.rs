//! One function's own binary, as `cargo lambda watch` serves each locally; deployed, the
//! `bootstrap` binary runs it by name. See [`passkeys_list::run`].

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    passkeys_list::run().await
}
