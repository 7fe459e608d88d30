//! One function's own binary, as `cargo lambda watch` serves each locally; deployed, the
//! `bootstrap` binary runs it by name. See [`user_events::run`].

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    user_events::run().await
}
