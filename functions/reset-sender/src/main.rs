//! One function's own binary, as `cargo lambda watch` serves each locally; deployed, the
//! `bootstrap` binary runs it by name. See [`reset_sender::run`].

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    reset_sender::run().await
}
