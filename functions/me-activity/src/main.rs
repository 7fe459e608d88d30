//! One function's own binary, as `cargo lambda watch` serves each locally; deployed, the
//! `bootstrap` binary runs it by name. See [`me_activity::run`].

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    me_activity::run().await
}
