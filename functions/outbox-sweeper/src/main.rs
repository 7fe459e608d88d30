//! One function's own binary, as `cargo lambda watch` serves each locally; deployed, the
//! `bootstrap` binary runs it by name. See [`outbox_sweeper::run`].

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    outbox_sweeper::run().await
}
