//! The operators' function (`authctl`): no HTTP route, so only a principal that IAM lets
//! call `lambda:InvokeFunction` on it can run a command. Each request is
//! `{"actor": <the operator's principal>, "command": {"name": …}}`; each answer is
//! `{"ok": true, "result": …}` or `{"ok": false, "error": {"code", "detail"}}`, never a
//! function error, so the CLI always has something to print.

use auth_shared::ops::Keyed;
use auth_shared::ops::admin::{AdminFailure, AdminRequest, AdminResponse, run as execute};
use lambda_runtime::LambdaEvent;
use serde_json::Value;

pub async fn handle(app: &impl Keyed, event: LambdaEvent<Value>) -> AdminResponse {
    match serde_json::from_value::<AdminRequest>(event.payload) {
        Ok(request) => execute(app, request).await,
        Err(error) => AdminResponse::Failed {
            ok: false,
            error: AdminFailure {
                code: "invalid_request".to_owned(),
                detail: format!("not a command this function knows: {error}"),
            },
        },
    }
}

/// The Lambda: the table and the HMAC key (a reset request's send counter), built once per
/// cold start; then commands.
pub async fn run() -> Result<(), lambda_runtime::Error> {
    use auth_shared::Startup;
    use lambda_runtime::{Error, run, service_fn};
    use std::sync::Arc;

    let start = Startup::from_env().await?;
    let app = Arc::new(start.app().with_hmac_key(start.hmac_key()));
    run(service_fn(move |event| {
        let app = Arc::clone(&app);
        // Boxed: the handler's future nests the SDK's, too deep to lay out inside the
        // runtime's own future (rustc's query depth limit).
        async move { Ok::<_, Error>(Box::pin(handle(&*app, event)).await) }
    }))
    .await
}
