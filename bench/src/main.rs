//! `auth-bench`: the figures `make bench` reports.
//!
//!   auth-bench crypto                      argon2id and RS256 costs
//!   auth-bench lambda <dir with binaries>  init time and warm overhead of every function
//!   auth-bench argon2-memory               peak memory of one hash (run in a fresh process)
//!
//! Each prints Markdown table rows with the target beside the figure.

mod standins;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use auth_shared::crypto::{PasswordHasher, TokenSigner};
use auth_shared::domain::Password;
use auth_shared::secrets::Secrets;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::json;

use auth_tools::runtime_api::{RuntimeApi, api_gateway_event};
use standins::{Account, AwsState};

type Error = Box<dyn std::error::Error + Send + Sync>;

const PASSWORD: &str = "correct horse battery staple";
const INIT_STARTS: usize = 21;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(|a, b| a.total_cmp(b));
    v
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "**missed**" }
}

struct Crypto {
    argon2_ms: f64,
    sign_us: f64,
    verify_us: f64,
}

async fn measure_crypto(secret: &Secrets) -> Result<Crypto, Error> {
    let hasher = PasswordHasher::new()?;
    let password = Password::for_login(PASSWORD.into());
    hasher.hash(&password).await?; // warm-up
    let rounds = 20;
    let start = Instant::now();
    for _ in 0..rounds {
        hasher.hash(&password).await?;
    }
    let argon2_ms = start.elapsed().as_secs_f64() * 1e3 / rounds as f64;

    let (kid, key) = secret.signing_keys.iter().next().ok_or("no key")?;
    let signer = TokenSigner::new(kid, key.clone(), "https://bench.example", "bench", 900);
    let now = auth_shared::Clock::now(&auth_shared::SystemClock);
    let rounds = 2000;
    let start = Instant::now();
    let mut token = String::new();
    for _ in 0..rounds {
        token = signer.sign("bench-user", "bench-session", now)?;
    }
    let sign_us = start.elapsed().as_secs_f64() * 1e6 / rounds as f64;

    let jwk = key.public_jwk(kid);
    let decoding = DecodingKey::from_jwk(&jwk)?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&["https://bench.example"]);
    validation.set_audience(&["bench"]);
    let rounds = 20_000;
    let start = Instant::now();
    for _ in 0..rounds {
        jsonwebtoken::decode::<auth_shared::crypto::AccessClaims>(&token, &decoding, &validation)?;
    }
    let verify_us = start.elapsed().as_secs_f64() * 1e6 / rounds as f64;
    Ok(Crypto {
        argon2_ms,
        sign_us,
        verify_us,
    })
}

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

async fn argon2_memory() -> Result<(), Error> {
    let before = vm_hwm_kib();
    let hasher = PasswordHasher::new()?;
    hasher.hash(&Password::for_login(PASSWORD.into())).await?;
    let after = vm_hwm_kib();
    println!("{}", after.saturating_sub(before));
    Ok(())
}

async fn crypto_report() -> Result<(), Error> {
    let secret = Secrets::from_document(&auth_tools::keys::new_secret("bench-1")?)?;
    let c = measure_crypto(&secret).await?;
    let exe = std::env::current_exe()?;
    let out = tokio::process::Command::new(exe)
        .arg("argon2-memory")
        .output()
        .await?;
    let peak_kib: f64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(f64::NAN);
    println!(
        "| argon2id m=19456 t=2 p=1, one hash | {:.1} ms | ≤ 30 ms | {} |",
        c.argon2_ms,
        verdict(c.argon2_ms <= 30.0)
    );
    println!(
        "| argon2id hashes per second per core | {:.1} | | |",
        1e3 / c.argon2_ms
    );
    println!(
        "| argon2id peak memory of one hash | {:.1} MiB | (19 MiB by its parameters) | |",
        peak_kib / 1024.0
    );
    println!(
        "| JWT RS256 sign (RSA-2048) | {:.0} µs | ≤ 1 ms | {} |",
        c.sign_us,
        verdict(c.sign_us <= 1000.0)
    );
    println!(
        "| JWT RS256 verify | {:.1} µs | ≤ 50 µs | {} |",
        c.verify_us,
        verdict(c.verify_us <= 50.0)
    );
    Ok(())
}

/// One function under test: the event it gets and what it should answer.
struct Scenario {
    function: &'static str,
    account: Account,
    expected: u16,
    /// The crypto a request cannot avoid, by name.
    crypto: &'static str,
    event: fn() -> String,
}

fn token43() -> String {
    let raw: [u8; 32] = auth_shared::crypto::random_array().unwrap_or([7; 32]);
    auth_shared::crypto::base64url(&raw)
}

fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            function: "register",
            account: Account::Absent,
            expected: 200,
            crypto: "argon2 hash",
            event: || {
                let body = json!({"email": "bench@example.com", "password": PASSWORD, "repeat_password": PASSWORD});
                api_gateway_event(
                    "POST",
                    "/registration",
                    "/registration",
                    Some(body.to_string()),
                    json!({}),
                )
            },
        },
        Scenario {
            function: "confirm",
            account: Account::Unverified,
            expected: 200,
            crypto: "RS256 sign",
            event: || {
                let code = token43();
                api_gateway_event(
                    "PATCH",
                    &format!("/registration/{code}"),
                    "/registration/{code}",
                    None,
                    json!({"code": code}),
                )
            },
        },
        Scenario {
            function: "resend-code",
            account: Account::Unverified,
            expected: 200,
            crypto: "none",
            event: || {
                api_gateway_event(
                    "POST",
                    "/registration/resend_code",
                    "/registration/resend_code",
                    Some(json!({"email": "bench@example.com"}).to_string()),
                    json!({}),
                )
            },
        },
        Scenario {
            function: "login",
            account: Account::Verified,
            expected: 200,
            crypto: "argon2 verify + RS256 sign",
            event: || {
                let body = json!({"email": "bench@example.com", "password": PASSWORD});
                api_gateway_event(
                    "POST",
                    "/login",
                    "/login",
                    Some(body.to_string()),
                    json!({}),
                )
            },
        },
        Scenario {
            function: "login-otp",
            account: Account::Verified,
            expected: 400,
            crypto: "none",
            event: || {
                let body =
                    json!({"challenge_id": uuid::Uuid::new_v4().to_string(), "otp": "123456"});
                api_gateway_event(
                    "POST",
                    "/login/otp",
                    "/login/otp",
                    Some(body.to_string()),
                    json!({}),
                )
            },
        },
        Scenario {
            function: "token",
            account: Account::Verified,
            expected: 200,
            crypto: "RS256 sign",
            event: || {
                api_gateway_event(
                    "POST",
                    "/token",
                    "/token",
                    Some(json!({"refresh_token": token43()}).to_string()),
                    json!({}),
                )
            },
        },
        Scenario {
            function: "logout",
            account: Account::Verified,
            expected: 204,
            crypto: "none",
            event: || {
                api_gateway_event(
                    "POST",
                    "/logout",
                    "/logout",
                    Some(json!({"refresh_token": token43()}).to_string()),
                    json!({}),
                )
            },
        },
        Scenario {
            function: "well-known",
            account: Account::Verified,
            expected: 200,
            crypto: "none",
            event: || {
                api_gateway_event(
                    "GET",
                    "/.well-known/jwks.json",
                    "/.well-known/jwks.json",
                    None,
                    json!({}),
                )
            },
        },
    ]
}

fn command(
    binary: &Path,
    runtime_port: u16,
    aws_port: u16,
    function: &str,
    jwks: &str,
) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(binary);
    cmd.env_clear()
        .env(
            "AWS_LAMBDA_RUNTIME_API",
            format!("127.0.0.1:{runtime_port}"),
        )
        .env("AWS_LAMBDA_FUNCTION_NAME", function)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1769")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "bench")
        .env("AWS_SECRET_ACCESS_KEY", "bench")
        .env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{aws_port}"))
        .env("TABLE_NAME", "bench")
        .env("SENDER_EMAIL", "no-reply@example.com")
        .env("CONFIRM_URL", "https://app.example.com/confirm/{code}")
        .env("RESET_URL", "https://app.example.com/reset/{code}")
        .env(
            "IDENTIFIER_CHANGE_URL",
            "https://app.example.com/change/{code}",
        )
        .env("ISSUER", "https://bench.example")
        .env("JWT_AUDIENCE", "bench")
        .env("JWT_SIGNING_KID", "bench-1")
        .env("AUTH_SECRET_ID", "bench")
        .env("JWT_PUBLIC_JWKS", jwks)
        .env(
            "USER_EVENTS_TOPIC_ARN",
            "arn:aws:sns:us-east-1:123456789012:bench",
        )
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    cmd
}

async fn lambda_report(dir: &Path, requests: usize) -> Result<(), Error> {
    let doc = auth_tools::keys::new_secret("bench-1")?;
    let secret = Secrets::from_document(&doc)?;
    let jwks = serde_json::to_string(&auth_tools::keys::public_jwks(&doc)?)?;
    let crypto = measure_crypto(&secret).await?;
    let hash = PasswordHasher::new()?
        .hash(&Password::for_login(PASSWORD.into()))
        .await?;
    let state = AwsState::new(serde_json::to_string(&doc)?, hash);
    let aws_port = standins::aws(std::sync::Arc::clone(&state)).await?;

    println!(
        "| function | init median (of {INIT_STARTS}) | init target ≤ 6 ms | warm p50 | warm p99 | unavoidable crypto | overhead p50 / p99 | target ≤ 0.3 / 1 ms |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut token_mean_us = f64::NAN;
    for scenario in scenarios() {
        let binary = dir.join(scenario.function);
        *state.account.lock().unwrap_or_else(|e| e.into_inner()) = scenario.account;

        // Init: process start to its first poll of the Runtime API.
        let mut inits = Vec::new();
        for _ in 0..INIT_STARTS {
            let mut runtime = RuntimeApi::start().await?;
            let start = Instant::now();
            let mut child =
                command(&binary, runtime.port, aws_port, scenario.function, &jwks).spawn()?;
            let polled =
                tokio::time::timeout(Duration::from_secs(10), runtime.first_poll.recv()).await;
            let _ = child.kill().await;
            match polled {
                Ok(Some(at)) => inits.push((at - start).as_secs_f64() * 1e3),
                _ => {
                    return Err(
                        format!("{} never polled the Runtime API", scenario.function).into(),
                    );
                }
            }
        }
        let inits = sorted(inits);

        // Warm: one process, `requests` invocations one after another.
        let mut runtime = RuntimeApi::start().await?;
        let mut child =
            command(&binary, runtime.port, aws_port, scenario.function, &jwks).spawn()?;
        let mut latencies = Vec::with_capacity(requests);
        let warmup = 20;
        for i in 0..requests + warmup {
            runtime.push((scenario.event)());
            let done = tokio::time::timeout(Duration::from_secs(10), runtime.done.recv())
                .await
                .map_err(|_| format!("{} did not answer", scenario.function))?
                .ok_or("runtime stand-in closed")?;
            if done.status != scenario.expected {
                return Err(format!(
                    "{} answered {} instead of {}: {}",
                    scenario.function, done.status, scenario.expected, done.body
                )
                .into());
            }
            if i >= warmup {
                latencies.push(done.micros);
            }
        }
        let _ = child.kill().await;
        let mean = latencies.iter().sum::<f64>() / latencies.len() as f64;
        let latencies = sorted(latencies);
        let crypto_us = match scenario.crypto {
            "argon2 hash" => crypto.argon2_ms * 1e3,
            "argon2 verify + RS256 sign" => crypto.argon2_ms * 1e3 + crypto.sign_us,
            "RS256 sign" => crypto.sign_us,
            _ => 0.0,
        };
        if scenario.function == "token" {
            token_mean_us = mean;
        }
        let p50 = percentile(&latencies, 50.0);
        let p99 = percentile(&latencies, 99.0);
        let over50 = (p50 - crypto_us).max(0.0) / 1e3;
        let over99 = (p99 - crypto_us).max(0.0) / 1e3;
        let init = percentile(&inits, 50.0);
        println!(
            "| {} | {:.2} ms | {} | {:.2} ms | {:.2} ms | {} ({:.2} ms) | {:.3} / {:.3} ms | {} |",
            scenario.function,
            init,
            verdict(init <= 6.0),
            p50 / 1e3,
            p99 / 1e3,
            scenario.crypto,
            crypto_us / 1e3,
            over50,
            over99,
            verdict(over50 <= 0.3 && over99 <= 1.0),
        );
    }
    let ratio = crypto.sign_us / token_mean_us;
    println!();
    println!(
        "Token refresh with the AWS services stood in: {:.0} refreshes/s on one core ({:.0} µs each) \
         against {:.0} RS256 signatures/s ({:.0} µs each): {:.0}% of the signing limit (target ≥ 75%: {}).",
        1e6 / token_mean_us,
        token_mean_us,
        1e6 / crypto.sign_us,
        crypto.sign_us,
        ratio * 100.0,
        verdict(ratio >= 0.75)
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("crypto") => crypto_report().await,
        Some("argon2-memory") => argon2_memory().await,
        Some("lambda") => {
            let dir = args
                .get(1)
                .ok_or("lambda needs the directory of the release binaries")?;
            let requests = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(2000);
            lambda_report(Path::new(dir), requests).await
        }
        _ => Err("usage: auth-bench crypto | lambda DIR [REQUESTS] | argon2-memory".into()),
    }
}
