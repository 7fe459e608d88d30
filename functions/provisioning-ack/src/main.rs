//! One function's own binary, as `cargo lambda watch` serves each locally; deployed, the
//! `bootstrap` binary runs it by name. See [`provisioning_ack::run`].

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    provisioning_ack::run().await
}
