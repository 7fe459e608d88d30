//! One function's own binary, as `cargo lambda watch` serves each locally; deployed, the
//! `bootstrap` binary runs it by name. See [`sessions_list::run`].

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    sessions_list::run().await
}
