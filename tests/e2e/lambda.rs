//! Function binaries run exactly as in Lambda: started with `AWS_LAMBDA_RUNTIME_API`
//! pointing at a stand-in Runtime API that hands them events (API Gateway payloads, stream
//! batches, schedules) and collects their answers; at `RUST_LOG=trace`, output captured.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use auth_tools::runtime_api::{RuntimeApi, api_gateway_event};
use serde_json::{Value, json};

/// The function binaries sit beside this test binary's `deps/` directory.
fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    exe.parent()
        .and_then(|deps| deps.parent())
        .expect("target/debug")
        .join(name)
}

/// What one function printed and answered.
pub struct Run {
    pub output: String,
    pub answers: Vec<Value>,
}

/// Starts `function` as Lambda would, hands it `events` one at a time, and stops it.
pub async fn run(function: &str, events: Vec<String>) -> Run {
    run_with(function, events, &[]).await
}

/// [`run`], with extra environment variables (e.g. AWS endpoints).
pub async fn run_with(function: &str, events: Vec<String>, env: &[(&str, &str)]) -> Run {
    let mut runtime = RuntimeApi::start().await.expect("the Runtime API stand-in");
    let child = tokio::process::Command::new(binary(function))
        .env(
            "AWS_LAMBDA_RUNTIME_API",
            format!("127.0.0.1:{}", runtime.port),
        )
        .env("AWS_LAMBDA_FUNCTION_NAME", function)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1769")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("RUST_LOG", "trace")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("{function}: {e}"));
    let mut answers = Vec::new();
    for event in events {
        runtime.push(event);
        let done = tokio::time::timeout(Duration::from_secs(60), runtime.done.recv())
            .await
            .unwrap_or_else(|_| panic!("{function} did not answer"))
            .expect("the Runtime API stand-in is up");
        let answer: Value = serde_json::from_str(&done.body).expect("a JSON response");
        answers.push(answer);
    }
    let mut child = child;
    let _ = child.start_kill();
    let out = child.wait_with_output().await.expect("the output");
    let mut output = String::from_utf8_lossy(&out.stdout).into_owned();
    output.push_str(&String::from_utf8_lossy(&out.stderr));
    Run { output, answers }
}

/// A `POST` API Gateway event with a JSON body.
pub fn post(path: &str, body: Value) -> String {
    api_gateway_event("POST", path, path, Some(body.to_string()), json!({}))
}

/// The JSON body of an HTTP answer, which must have `status`.
pub fn body_of(answer: &Value, status: u64) -> Value {
    assert_eq!(answer["statusCode"], status, "{answer}");
    serde_json::from_str(answer["body"].as_str().unwrap_or("null")).unwrap_or(Value::Null)
}
