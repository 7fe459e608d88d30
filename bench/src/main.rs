//! `auth-bench`: the figures `make bench` reports, each measured side by side with the bare
//! primitive it is held against, in the same run.
//!
//!   auth-bench crypto                          the service's argon2id and RS256 paths
//!                                              against bare `argon2` and aws-lc
//!   auth-bench lambda DIR [REQUESTS] [STARTS]  every function's init; the flows' warm
//!                                              overhead and AWS round trips
//!   auth-bench init-steps                      what a cold start spends where, in process
//!   auth-bench argon2-memory                   peak memory of one hash (a fresh process)
//!   auth-bench import [USERS]                  users imported into DynamoDB Local
//!
//! Each prints Markdown with the target beside the figure.

mod import;
mod standins;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use auth_shared::crypto::{PasswordHasher, TokenSigner, TokenVerifier};
use auth_shared::domain::Password;
use auth_shared::secrets::{SecretDocument, Secrets};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::RSA_PKCS1_SHA256;
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

fn median(v: Vec<f64>) -> f64 {
    percentile(&sorted(v), 50.0)
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "**missed**" }
}

/// Minor page faults of this process so far (`/proc/self/stat`, field 10).
fn minor_faults() -> u64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // The command name (field 2) may hold spaces; count from after its `)`.
            let rest = s.rsplit_once(')')?.1.to_owned();
            rest.split_whitespace().nth(7)?.parse().ok()
        })
        .unwrap_or(0)
}

/// The RSA key of a secret document as aws-lc parses it, for the bare signature.
fn bare_rsa_key(doc: &SecretDocument) -> Result<aws_lc_rs::rsa::KeyPair, Error> {
    use base64::Engine;
    let pem = doc.signing_keys.values().next().ok_or("no signing key")?;
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD.decode(body)?;
    aws_lc_rs::rsa::KeyPair::from_pkcs8(&der).map_err(|e| e.to_string().into())
}

/// One argon2id hash as the `argon2` crate's own API makes it: `hash_password_into`, which
/// allocates and zeroes its 19 MiB for every hash.
fn bare_argon2(argon2: &argon2::Argon2<'_>, salt: &[u8; 16]) -> Result<(), Error> {
    let mut out = [0u8; 32];
    argon2
        .hash_password_into(PASSWORD.as_bytes(), salt, &mut out)
        .map_err(|e| e.to_string())?;
    std::hint::black_box(out);
    Ok(())
}

struct Crypto {
    /// Bare `hash_password_into`, ms (median).
    bare_argon2_ms: f64,
    /// Bare `hash_password_into_with_memory` on memory kept between hashes: the least an
    /// argon2id hash at these parameters costs here, ms.
    kept_argon2_ms: f64,
    /// The previous service path: the library's PHC `hash_password`, ms.
    phc_argon2_ms: f64,
    /// The service's hash and verify, through `spawn_blocking` as the functions call them.
    hash_ms: f64,
    verify_ms: f64,
    bare_faults: f64,
    service_faults: f64,
    /// Bare aws-lc RSA-2048 PKCS#1 v1.5 SHA-256 signature of a JWT's signing input, µs.
    bare_sign_us: f64,
    /// The service's `TokenSigner::sign`, µs.
    sign_us: f64,
    /// `jsonwebtoken::encode`, the previous signer (parses the key per token), µs.
    encode_us: f64,
    verify_token_us: f64,
}

async fn measure_crypto(doc: &SecretDocument) -> Result<Crypto, Error> {
    use argon2::password_hash::PasswordHasher as _;
    let secret = Secrets::from_document(doc)?;
    let hasher = PasswordHasher::new()?;
    let password = Password::for_login(PASSWORD.into());
    let params = argon2::Params::new(
        auth_shared::crypto::password::M_COST_KIB,
        auth_shared::crypto::password::T_COST,
        auth_shared::crypto::password::P_COST,
        Some(32),
    )
    .map_err(|e| e.to_string())?;
    let argon2 = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let salt: [u8; 16] = auth_shared::crypto::random_array()?;
    let stored = hasher.hash(&password).await?;
    // Warm-up, then the paths interleaved round by round so that drift hits all alike.
    bare_argon2(&argon2, &salt)?;
    hasher.verify(&password, Some(&stored)).await?;
    let (mut bare, mut phc, mut hash, mut verify) = (vec![], vec![], vec![], vec![]);
    let mut kept = vec![];
    let mut memory = vec![argon2::Block::default(); argon2.params().block_count()];
    let (mut bare_faults, mut service_faults) = (0u64, 0u64);
    let rounds = 15;
    for _ in 0..rounds {
        let (faults, start) = (minor_faults(), Instant::now());
        bare_argon2(&argon2, &salt)?;
        bare.push(start.elapsed().as_secs_f64() * 1e3);
        bare_faults += minor_faults() - faults;

        let start = Instant::now();
        let mut out = [0u8; 32];
        argon2
            .hash_password_into_with_memory(PASSWORD.as_bytes(), &salt, &mut out, &mut memory[..])
            .map_err(|e| e.to_string())?;
        std::hint::black_box(out);
        kept.push(start.elapsed().as_secs_f64() * 1e3);

        let start = Instant::now();
        let phc_string = argon2
            .hash_password(PASSWORD.as_bytes())
            .map_err(|e| e.to_string())?
            .to_string();
        std::hint::black_box(phc_string);
        phc.push(start.elapsed().as_secs_f64() * 1e3);

        let (faults, start) = (minor_faults(), Instant::now());
        hasher.hash(&password).await?;
        hash.push(start.elapsed().as_secs_f64() * 1e3);
        service_faults += minor_faults() - faults;

        let start = Instant::now();
        hasher.verify(&password, Some(&stored)).await?;
        verify.push(start.elapsed().as_secs_f64() * 1e3);
    }

    let (kid, key) = secret.signing_keys.iter().next().ok_or("no key")?;
    let signer = TokenSigner::new(kid, key.clone(), "https://bench.example", "bench", 900);
    let now = auth_shared::Clock::now(&auth_shared::SystemClock);
    // What a password sign-in's tokens carry.
    let signed_in = auth_shared::crypto::SignedIn::password(now);
    let token = signer.sign("bench-user", "bench-session", &signed_in, now)?;
    // The bare signature signs what the service signs: a JWT's `header.payload`.
    let (signing_input, _) = token.rsplit_once('.').ok_or("a JWT")?;
    let bare_key = bare_rsa_key(doc)?;
    let rng = SystemRandom::new();
    let mut signature = vec![0; bare_key.public_modulus_len()];
    let pem = doc.signing_keys.values().next().ok_or("no key")?;
    let encoding = jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes())?;
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(kid.clone());
    let claims = json!({"iss": "https://bench.example", "sub": "bench-user", "aud": "bench",
        "iat": now, "exp": now + 900, "jti": uuid::Uuid::new_v4().to_string(), "sid": "bench-session",
        "amr": ["pwd"], "auth_time": now});
    let (mut bare_sign, mut sign, mut encode) = (vec![], vec![], vec![]);
    let block = 100;
    for _ in 0..15 {
        let start = Instant::now();
        for _ in 0..block {
            bare_key
                .sign(
                    &RSA_PKCS1_SHA256,
                    &rng,
                    signing_input.as_bytes(),
                    &mut signature,
                )
                .map_err(|_| "sign")?;
        }
        bare_sign.push(start.elapsed().as_secs_f64() * 1e6 / block as f64);
        let start = Instant::now();
        for _ in 0..block {
            std::hint::black_box(signer.sign("bench-user", "bench-session", &signed_in, now)?);
        }
        sign.push(start.elapsed().as_secs_f64() * 1e6 / block as f64);
        let start = Instant::now();
        for _ in 0..block / 4 {
            std::hint::black_box(jsonwebtoken::encode(&header, &claims, &encoding)?);
        }
        encode.push(start.elapsed().as_secs_f64() * 1e6 / (block / 4) as f64);
    }

    let jwks = jsonwebtoken::jwk::JwkSet {
        keys: vec![key.public_jwk(kid)],
    };
    let verifier = TokenVerifier::new(&jwks, "https://bench.example", "bench")?;
    let rounds = 20_000;
    let start = Instant::now();
    for _ in 0..rounds {
        verifier.verify(&token, now).ok_or("token refused")?;
    }
    let verify_token_us = start.elapsed().as_secs_f64() * 1e6 / rounds as f64;
    Ok(Crypto {
        bare_argon2_ms: median(bare),
        kept_argon2_ms: median(kept),
        phc_argon2_ms: median(phc),
        hash_ms: median(hash),
        verify_ms: median(verify),
        bare_faults: bare_faults as f64 / rounds as f64,
        service_faults: service_faults as f64 / rounds as f64,
        bare_sign_us: median(bare_sign),
        sign_us: median(sign),
        encode_us: median(encode),
        verify_token_us,
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
    let doc = auth_tools::keys::new_secret("bench-1")?;
    let c = measure_crypto(&doc).await?;
    let exe = std::env::current_exe()?;
    let out = tokio::process::Command::new(exe)
        .arg("argon2-memory")
        .output()
        .await?;
    let peak_kib: f64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(f64::NAN);
    let hash_ratio = c.hash_ms / c.bare_argon2_ms;
    let verify_ratio = c.verify_ms / c.bare_argon2_ms;
    let sign_ratio = c.sign_us / c.bare_sign_us;
    println!("| what | measured | against, same run | target | |");
    println!("|---|---|---|---|---|");
    println!(
        "| argon2id m=19456 t=2 p=1: the service's hash | {:.1} ms | bare `hash_password_into` {:.1} ms: {:.3}× | ≤ 1.05× | {} |",
        c.hash_ms,
        c.bare_argon2_ms,
        hash_ratio,
        verdict(hash_ratio <= 1.05)
    );
    println!(
        "| argon2id: the service's verify | {:.1} ms | bare `hash_password_into` {:.1} ms: {:.3}× | ≤ 1.05× | {} |",
        c.verify_ms,
        c.bare_argon2_ms,
        verify_ratio,
        verdict(verify_ratio <= 1.05)
    );
    println!(
        "| argon2id: bare `hash_password_into_with_memory`, memory kept | {:.1} ms | {:.3}× | | |",
        c.kept_argon2_ms,
        c.kept_argon2_ms / c.bare_argon2_ms
    );
    println!(
        "| argon2id: the library's PHC `hash_password` (the previous path) | {:.1} ms | {:.3}× | | |",
        c.phc_argon2_ms,
        c.phc_argon2_ms / c.bare_argon2_ms
    );
    println!(
        "| argon2id: minor page faults per hash | {:.0} (service, memory kept per thread) | {:.0} (bare, allocated per hash) | | |",
        c.service_faults, c.bare_faults
    );
    println!(
        "| argon2id: peak memory of one hash | {:.1} MiB | (19 MiB by its parameters) | | |",
        peak_kib / 1024.0
    );
    println!(
        "| JWT RS256 sign (RSA-2048), the service's `TokenSigner::sign` | {:.0} µs | bare aws-lc PKCS#1 v1.5 SHA-256 {:.0} µs: {:.3}× | ≤ 1.15× | {} |",
        c.sign_us,
        c.bare_sign_us,
        sign_ratio,
        verdict(sign_ratio <= 1.15)
    );
    println!(
        "| JWT RS256 sign with `jsonwebtoken::encode` (the previous path) | {:.0} µs | {:.3}× | | |",
        c.encode_us,
        c.encode_us / c.bare_sign_us
    );
    println!(
        "| JWT RS256 verify (`TokenVerifier::verify`) | {:.1} µs | | | |",
        c.verify_token_us
    );
    Ok(())
}

/// One flow under test: the event its function gets and what it should answer.
struct Scenario {
    flow: &'static str,
    function: &'static str,
    account: Account,
    expected: u16,
    /// The crypto a request cannot avoid.
    crypto: Crypt,
    /// The fewest DynamoDB round trips its invariants need, and why.
    minimum: &'static str,
    event: fn() -> String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Crypt {
    None,
    Argon2,
    Sign,
    Argon2AndSign,
}

impl Crypt {
    fn name(self) -> &'static str {
        match self {
            Crypt::None => "none",
            Crypt::Argon2 => "argon2",
            Crypt::Sign => "RS256 sign",
            Crypt::Argon2AndSign => "argon2 + RS256 sign",
        }
    }

    fn micros(self, c: &Crypto) -> f64 {
        // The least a hash costs: the kept-memory primitive the service calls.
        let argon2 = c.kept_argon2_ms.min(c.bare_argon2_ms) * 1e3;
        match self {
            Crypt::None => 0.0,
            Crypt::Argon2 => argon2,
            Crypt::Sign => c.bare_sign_us,
            Crypt::Argon2AndSign => argon2 + c.bare_sign_us,
        }
    }
}

fn token43() -> String {
    let raw: [u8; 32] = auth_shared::crypto::random_array().unwrap_or([7; 32]);
    auth_shared::crypto::base64url(&raw)
}

fn post(path: &str, body: serde_json::Value) -> String {
    api_gateway_event("POST", path, path, Some(body.to_string()), json!({}))
}

fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            flow: "registration",
            function: "register",
            account: Account::Absent,
            expected: 200,
            crypto: Crypt::Argon2,
            minimum: "4: one read of the claims and the send counter (registration precedence and the sliding send window decide on them); \
                      the IP budget, a conditional increment taken before the send; the account, claims, code, send and outbox in one transaction; \
                      after delivery, the commit (a failed send must leave nothing). 3 would need the send window kept as a counter a condition can check",
            event: || {
                post(
                    "/registration",
                    json!({"email": "bench@example.com", "password": PASSWORD, "repeat_password": PASSWORD}),
                )
            },
        },
        Scenario {
            flow: "confirmation",
            function: "confirm",
            account: Account::Unverified,
            expected: 200,
            crypto: Crypt::Sign,
            minimum: "3: the code (an email link is not guessable, so it is read; a 6-digit code's try is a conditional increment instead); \
                      the account (its state, identifier and session generation); code spent, account verified, outbox and the first session in one transaction",
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
            flow: "resend",
            function: "resend-code",
            account: Account::Unverified,
            expected: 200,
            crypto: Crypt::None,
            minimum: "5, 4 needed: the claim and the account (the same two reads whether or not an account exists); the send counter; \
                      the IP budget counted before the send; the new code, the account's pointer to it and the send in one transaction. \
                      The counter's read goes once the send window is a counter the write's condition can check",
            event: || {
                post(
                    "/registration/resend_code",
                    json!({"email": "bench@example.com"}),
                )
            },
        },
        Scenario {
            flow: "login",
            function: "login",
            account: Account::Verified,
            expected: 200,
            crypto: Crypt::Argon2AndSign,
            minimum: "5: the claim and the account (the same two reads for an unknown identifier); the attempt counted on the source \
                      address's failure budget and on the login gate before the password is checked (one conditional increment each); \
                      the session started, the account's generation and password checked, the failures cleared and the budget's try \
                      given back in one transaction",
            event: || {
                post(
                    "/login",
                    json!({"email": "bench@example.com", "password": PASSWORD}),
                )
            },
        },
        Scenario {
            flow: "OTP sign-in",
            function: "login-otp",
            account: Account::Verified,
            expected: 400,
            crypto: Crypt::None,
            minimum: "1 for a wrong code: the try counted by a conditional update that returns the challenge",
            event: || {
                post(
                    "/login/otp",
                    json!({"challenge_id": uuid::Uuid::new_v4().to_string(), "otp": "123456"}),
                )
            },
        },
        Scenario {
            flow: "refresh",
            function: "token",
            account: Account::Verified,
            expected: 200,
            crypto: Crypt::Sign,
            minimum: "2: the token read (its digest names no family); \
                      rotation, child, session touch and the account's generation in one transaction",
            event: || post("/token", json!({"refresh_token": token43()})),
        },
        Scenario {
            flow: "logout",
            function: "logout",
            account: Account::Verified,
            expected: 204,
            crypto: Crypt::None,
            minimum: "2: the token read to find its session; the session revoked",
            event: || post("/logout", json!({"refresh_token": token43()})),
        },
        Scenario {
            flow: "discovery",
            function: "well-known",
            account: Account::Verified,
            expected: 200,
            crypto: Crypt::None,
            minimum: "0",
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

/// Every function binary, for the init figures.
const FUNCTIONS: &[&str] = &[
    "register",
    "confirm",
    "resend-code",
    "login",
    "login-otp",
    "token",
    "logout",
    "password-forgot",
    "password-reset",
    "password-change",
    "sessions-list",
    "session-revoke",
    "sessions-revoke-all",
    "me",
    "me-identifier",
    "me-identifier-confirm",
    "me-delete",
    "well-known",
    "user-events",
    "outbox-sweeper",
    "login-mfa",
    "totp-enroll",
    "totp-confirm",
    "totp-disable",
    "totp-recovery-codes",
    "passkey-options",
    "passkey-add",
    "passkeys-list",
    "passkey-rename",
    "passkey-delete",
    "login-passkey-options",
    "login-passkey",
    "oauth-start",
    "oauth-callback",
    "login-provider",
    "provider-link",
    "provider-unlink",
];

/// The stand-in Secrets Manager's answer time: `BENCH_SECRET_DELAY_MS`, 30 ms unless set
/// (a GetSecretValue round trip in AWS), so a cold start shows what the fetch costs.
fn secret_delay() -> Duration {
    let ms = std::env::var("BENCH_SECRET_DELAY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    Duration::from_millis(ms)
}

/// The binary that runs every function in `dir`: the one bootstrap every function deploys,
/// run by handler.
fn bootstrap_in(dir: &Path) -> std::path::PathBuf {
    dir.join("bootstrap")
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
        // The one bootstrap runs the function its handler names.
        .env("_HANDLER", function)
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
        .env("CONFIRM_URL", "https://app.example.com/confirm#code={code}")
        .env("RESET_URL", "https://app.example.com/reset#code={code}")
        .env(
            "IDENTIFIER_CHANGE_URL",
            "https://app.example.com/change#code={code}",
        )
        .env("ISSUER", "https://bench.example")
        .env("JWT_AUDIENCE", "bench")
        .env("JWT_SIGNING_KID", "bench-1")
        .env("AUTH_HMAC_SECRET_ID", "bench-hmac")
        .env("AUTH_SIGNING_SECRET_ID", "bench-signing")
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

/// Process start to the first poll of the Runtime API, `starts` times.
async fn init_times(
    binary: &Path,
    function: &str,
    aws_port: u16,
    jwks: &str,
    starts: usize,
) -> Result<Vec<f64>, Error> {
    let mut inits = Vec::new();
    for _ in 0..starts {
        let mut runtime = RuntimeApi::start().await?;
        let start = Instant::now();
        let mut child = command(binary, runtime.port, aws_port, function, jwks).spawn()?;
        let polled = tokio::time::timeout(Duration::from_secs(10), runtime.first_poll.recv()).await;
        let _ = child.kill().await;
        match polled {
            Ok(Some(at)) => inits.push((at - start).as_secs_f64() * 1e3),
            _ => return Err(format!("{function} never polled the Runtime API").into()),
        }
    }
    Ok(sorted(inits))
}

/// The bare SDK calls, one client per service built as the functions build theirs, each
/// timed against the same stand-in: the part of a request that is the AWS round trip itself.
async fn bare_calls(aws_port: u16) -> Result<BTreeMap<String, f64>, Error> {
    use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
    let sdk = auth_shared::aws::sdk_loader()
        .endpoint_url(format!("http://127.0.0.1:{aws_port}"))
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "bench", "bench", None, None, "bench",
        ))
        .load()
        .await;
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    let ses = aws_sdk_sesv2::Client::new(&sdk);
    let sns = aws_sdk_sns::Client::new(&sdk);
    let s = |v: &str| AttributeValue::S(v.to_owned());
    let key = |pk: &str| [("pk".to_owned(), s(pk)), ("sk".to_owned(), s("X"))].into_iter();
    let put = || {
        Put::builder()
            .table_name("bench")
            .set_item(Some(
                key("BENCH#1").chain([("n".to_owned(), s("1"))]).collect(),
            ))
            .condition_expression("attribute_not_exists(pk)")
            .build()
    };
    let update = || {
        Update::builder()
            .table_name("bench")
            .set_key(Some(key("BENCH#1").collect()))
            .update_expression("SET n = :n")
            .expression_attribute_values(":n", s("2"))
            .build()
    };
    let mut out = BTreeMap::new();
    for op in [
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "TransactWriteItems",
        "TransactGetItems",
        "SES SendEmail",
        "SNS Publish",
    ] {
        let mut times = Vec::new();
        for i in 0..220 {
            let start = Instant::now();
            let ok = match op {
                "GetItem" => ddb
                    .get_item()
                    .table_name("bench")
                    .set_key(Some(key("REFRESH#x").collect()))
                    .consistent_read(true)
                    .send()
                    .await
                    .is_ok(),
                "PutItem" => ddb
                    .put_item()
                    .table_name("bench")
                    .set_item(Some(key("BENCH#1").collect()))
                    .send()
                    .await
                    .is_ok(),
                "UpdateItem" => ddb
                    .update_item()
                    .table_name("bench")
                    .set_key(Some(key("BENCH#1").collect()))
                    .update_expression("SET n = :n")
                    .expression_attribute_values(":n", s("2"))
                    .send()
                    .await
                    .is_ok(),
                "DeleteItem" => ddb
                    .delete_item()
                    .table_name("bench")
                    .set_key(Some(key("BENCH#1").collect()))
                    .send()
                    .await
                    .is_ok(),
                "Query" => ddb
                    .query()
                    .table_name("bench")
                    .key_condition_expression("pk = :pk")
                    .expression_attribute_values(":pk", s("BENCH#1"))
                    .send()
                    .await
                    .is_ok(),
                // Four writes, as a refresh or a sign-in commits.
                "TransactWriteItems" => {
                    let items = vec![
                        TransactWriteItem::builder().put(put()?).build(),
                        TransactWriteItem::builder().put(put()?).build(),
                        TransactWriteItem::builder().update(update()?).build(),
                        TransactWriteItem::builder().update(update()?).build(),
                    ];
                    ddb.transact_write_items()
                        .set_transact_items(Some(items))
                        .send()
                        .await
                        .is_ok()
                }
                "TransactGetItems" => {
                    use aws_sdk_dynamodb::types::{Get, TransactGetItem};
                    let get = |pk: &str| -> Result<TransactGetItem, Error> {
                        let get = Get::builder()
                            .table_name("bench")
                            .set_key(Some(key(pk).collect()))
                            .build()?;
                        Ok(TransactGetItem::builder().get(get).build())
                    };
                    ddb.transact_get_items()
                        .transact_items(get("EMAIL#bench@example.com")?)
                        .transact_items(get("USERNAME#bench")?)
                        .send()
                        .await
                        .is_ok()
                }
                "SES SendEmail" => {
                    use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
                    let text = Content::builder().data("bench").build()?;
                    let message = Message::builder()
                        .subject(text.clone())
                        .body(Body::builder().text(text).build())
                        .build();
                    ses.send_email()
                        .from_email_address("no-reply@example.com")
                        .destination(Destination::builder().to_addresses("a@example.com").build())
                        .content(EmailContent::builder().simple(message).build())
                        .send()
                        .await
                        .is_ok()
                }
                _ => sns
                    .publish()
                    .phone_number("+14155550100")
                    .message("bench")
                    .send()
                    .await
                    .is_ok(),
            };
            if !ok {
                return Err(format!("bare {op} against the stand-in failed").into());
            }
            if i >= 20 {
                times.push(start.elapsed().as_secs_f64() * 1e6);
            }
        }
        out.insert(op.to_owned(), median(times));
    }
    Ok(out)
}

struct Warm {
    /// The first request of a new process, pushed as the process starts: init and the
    /// request, the secrets still on their way.
    cold_us: f64,
    p50_us: f64,
    p99_us: f64,
    /// Calls per request to each stand-in operation.
    calls: BTreeMap<String, f64>,
}

async fn warm(
    scenario: &Scenario,
    dir: &Path,
    state: &AwsState,
    aws_port: u16,
    jwks: &str,
    requests: usize,
) -> Result<Warm, Error> {
    let mut runtime = RuntimeApi::start().await?;
    let binary = bootstrap_in(dir);
    // The first event waits for the process: it is what a cold start answers, from the
    // moment the process first polls (its init done) to its answer.
    runtime.push((scenario.event)());
    let mut child = command(&binary, runtime.port, aws_port, scenario.function, jwks).spawn()?;
    let mut latencies = Vec::with_capacity(requests);
    let mut cold_us = f64::NAN;
    let warmup = 20;
    for i in 0..requests + warmup {
        if i == warmup {
            state.take_calls();
        }
        if i > 0 {
            runtime.push((scenario.event)());
        }
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
        if i == 0 {
            cold_us = done.micros;
        }
        if i >= warmup {
            latencies.push(done.micros);
        }
    }
    let _ = child.kill().await;
    let calls = state
        .take_calls()
        .into_iter()
        .map(|(op, n)| (op, n as f64 / requests as f64))
        .collect();
    let latencies = sorted(latencies);
    Ok(Warm {
        cold_us,
        p50_us: percentile(&latencies, 50.0),
        p99_us: percentile(&latencies, 99.0),
        calls,
    })
}

fn calls_text(calls: &BTreeMap<String, f64>, filter: impl Fn(&str) -> bool) -> String {
    let parts: Vec<String> = calls
        .iter()
        .filter(|(op, _)| filter(op))
        .map(|(op, n)| {
            if (n - n.round()).abs() < 0.01 {
                format!("{} {op}", n.round())
            } else {
                format!("{n:.2} {op}")
            }
        })
        .collect();
    if parts.is_empty() {
        "none".to_owned()
    } else {
        parts.join(", ")
    }
}

async fn lambda_report(dir: &Path, requests: usize, starts: usize) -> Result<(), Error> {
    let doc = auth_tools::keys::new_secret("bench-1")?;
    let jwks = serde_json::to_string(&auth_tools::keys::public_jwks(&doc)?)?;
    let crypto = measure_crypto(&doc).await?;
    let hash = PasswordHasher::new()?
        .hash(&Password::for_login(PASSWORD.into()))
        .await?;
    let state = AwsState::new(&doc, hash, secret_delay());
    let aws_port = standins::aws(std::sync::Arc::clone(&state)).await?;

    // Init of every function, well-known (no client, no secret) first as the yardstick.
    println!("### Init: process start to the first poll of the Runtime API (median of {starts})");
    println!();
    let well_known = percentile(
        &init_times(&bootstrap_in(dir), "well-known", aws_port, &jwks, starts).await?,
        50.0,
    );
    println!(
        "| function | init | × well-known ({well_known:.2} ms) | AWS calls at init | ≤ 6 ms | ≤ 1.5× well-known |"
    );
    println!("|---|---|---|---|---|---|");
    let mut init_of: BTreeMap<&str, f64> = BTreeMap::new();
    for function in FUNCTIONS {
        state.take_calls();
        let inits = init_times(&bootstrap_in(dir), function, aws_port, &jwks, starts).await?;
        init_of.insert(function, percentile(&inits, 50.0));
        let at_init: BTreeMap<String, f64> = state
            .take_calls()
            .into_iter()
            .map(|(op, n)| (op, n as f64 / starts as f64))
            .collect();
        let init = percentile(&inits, 50.0);
        let ratio = init / well_known;
        println!(
            "| {function} | {init:.2} ms | {ratio:.2}× | {} | {} | {} |",
            calls_text(&at_init, |_| true),
            verdict(init <= 6.0),
            verdict(ratio <= 1.5),
        );
    }

    // Warm: the bare SDK calls before and after the flows, averaged against drift.
    let before = bare_calls(aws_port).await?;
    let mut results = Vec::new();
    for scenario in scenarios() {
        *state.account.lock().unwrap_or_else(|e| e.into_inner()) = scenario.account;
        let w = warm(&scenario, dir, &state, aws_port, &jwks, requests).await?;
        results.push((scenario, w));
    }
    let after = bare_calls(aws_port).await?;
    let bare: BTreeMap<String, f64> = before
        .iter()
        .map(|(op, us)| {
            (
                op.clone(),
                (us + after.get(op).copied().unwrap_or(*us)) / 2.0,
            )
        })
        .collect();

    println!();
    println!("### Warm: {requests} sequential requests to one process, AWS stood in on loopback");
    println!();
    // The floor every function pays outside its own code: the Runtime API round trip, the
    // API Gateway event parsed and a response serialised, which `well-known` is nearly all of.
    let floor_us = results
        .iter()
        .find(|(s, _)| s.function == "well-known")
        .map_or(0.0, |(_, w)| w.p50_us);
    println!(
        "The service's own work is a request's time minus the bare crypto, minus the Runtime API floor \
         (`well-known`'s whole request, {:.0} µs p50: the event handed out and parsed, a response \
         serialised and posted), and minus, per AWS call it made, the bare SDK call of the same \
         operation against the same stand-in (measured in this run: {}).",
        floor_us,
        bare.iter()
            .map(|(op, us)| format!("{op} {us:.0} µs"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!();
    let floor_p99_us = results
        .iter()
        .find(|(s, _)| s.function == "well-known")
        .map_or(0.0, |(_, w)| w.p99_us);
    println!(
        "Own work's p99 is shown beside the floor's own p99 ({:.2} ms): on a shared machine the \
         tail is mostly the machine's, so only the p50 has a target.",
        floor_p99_us / 1e3
    );
    println!();
    println!(
        "| flow (function) | warm p50 / p99 | bare crypto | AWS calls per request | their bare cost | own work p50 | own work p99 (floor p99) | p50 ≤ 0.3 ms |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut refresh_floor_us = f64::NAN;
    let mut refresh_p50_us = f64::NAN;
    for (scenario, w) in &results {
        let crypto_us = scenario.crypto.micros(&crypto);
        let aws_us: f64 = w
            .calls
            .iter()
            .map(|(op, n)| {
                let base = op.strip_prefix("DynamoDB ").unwrap_or(op);
                n * bare.get(base).copied().unwrap_or(0.0)
            })
            .sum();
        let floor = if scenario.function == "well-known" {
            0.0
        } else {
            floor_us
        };
        let own50 = (w.p50_us - crypto_us - aws_us - floor) / 1e3;
        let own99 = (w.p99_us - crypto_us - aws_us - floor) / 1e3;
        println!(
            "| {} ({}) | {:.2} / {:.2} ms | {} {:.2} ms | {} | {:.2} ms | {:.3} ms | {:.3} ms ({:.2} ms) | {} |",
            scenario.flow,
            scenario.function,
            w.p50_us / 1e3,
            w.p99_us / 1e3,
            scenario.crypto.name(),
            crypto_us / 1e3,
            calls_text(&w.calls, |_| true),
            aws_us / 1e3,
            own50,
            own99,
            floor_p99_us / 1e3,
            verdict(own50 <= 0.3),
        );
        if scenario.function == "token" {
            refresh_floor_us = crypto.bare_sign_us + aws_us + floor_us;
            refresh_p50_us = w.p50_us;
        }
    }

    println!();
    println!("### DynamoDB round trips per flow");
    println!();
    println!("| flow | measured per request | the fewest its invariants need |");
    println!("|---|---|---|");
    for (scenario, w) in &results {
        if scenario.function == "well-known" {
            continue;
        }
        let total: f64 = w
            .calls
            .iter()
            .filter(|(op, _)| op.starts_with("DynamoDB "))
            .map(|(_, n)| n)
            .sum();
        println!(
            "| {} | {:.0} ({}) | {} |",
            scenario.flow,
            total,
            calls_text(&w.calls, |op| op.starts_with("DynamoDB ")),
            scenario.minimum
        );
    }

    let delay_ms = secret_delay().as_secs_f64() * 1e3;
    println!();
    println!("### Refresh against its floor (same run)");
    println!();
    println!(
        "The floor is what a refresh cannot do without: one bare RS256 signature ({:.0} µs), the \
         bare SDK calls it makes against the same stand-in, and the Runtime API floor.",
        crypto.bare_sign_us
    );
    println!();
    println!("| refresh p50 | its floor | ratio | ≤ 1.15× |");
    println!("|---|---|---|---|");
    let ratio = refresh_p50_us / refresh_floor_us;
    println!(
        "| {:.2} ms | {:.2} ms | {:.2}× | {} |",
        refresh_p50_us / 1e3,
        refresh_floor_us / 1e3,
        ratio,
        verdict(ratio <= 1.15)
    );

    println!();
    println!(
        "### Cold start with a realistic secret fetch (the stand-in Secrets Manager answers in {delay_ms:.0} ms)"
    );
    println!();
    println!(
        "Init is process start to the first poll; the first request is the event handed out at \
         that poll to its answer, the secrets fetched meanwhile (they are started at init and \
         awaited only where a request needs a key). Targets: a cold sign-in at most 5 ms slower \
         than a warm one (the fetch hides behind argon2); any other at most the fetch's delay \
         plus 5 ms."
    );
    println!();
    println!("| flow (function) | init | first request | warm p50 | first − warm | target | |");
    println!("|---|---|---|---|---|---|---|");
    for (scenario, w) in &results {
        let extra_ms = (w.cold_us - w.p50_us) / 1e3;
        let target_ms = if scenario.function == "login" {
            5.0
        } else {
            delay_ms + 5.0
        };
        println!(
            "| {} ({}) | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms | ≤ {:.0} ms | {} |",
            scenario.flow,
            scenario.function,
            init_of.get(scenario.function).copied().unwrap_or(f64::NAN),
            w.cold_us / 1e3,
            w.p50_us / 1e3,
            extra_ms,
            target_ms,
            verdict(extra_ms <= target_ms),
        );
    }
    Ok(())
}

/// The steps of a cold start, each timed in this process against the stand-ins: the first
/// time (what a cold start pays, one-time set-up included) and the median of 20 more.
async fn init_steps() -> Result<(), Error> {
    let doc = auth_tools::keys::new_secret("bench-1")?;
    let jwks = serde_json::to_string(&auth_tools::keys::public_jwks(&doc)?)?;
    let hash = PasswordHasher::new()?
        .hash(&Password::for_login(PASSWORD.into()))
        .await?;
    let state = AwsState::new(&doc, hash, secret_delay());
    let aws_port = standins::aws(std::sync::Arc::clone(&state)).await?;
    let mut steps: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let mut order = Vec::new();
    let mut time = |name: &'static str, started: Instant| {
        if !order.contains(&name) {
            order.push(name);
        }
        steps
            .entry(name)
            .or_default()
            .push(started.elapsed().as_secs_f64() * 1e3);
    };
    for _ in 0..21 {
        let t = Instant::now();
        let sdk = auth_shared::aws::sdk_loader()
            .endpoint_url(format!("http://127.0.0.1:{aws_port}"))
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "bench", "bench", None, None, "bench",
            ))
            .load()
            .await;
        time("SDK configuration (HTTPS client, AWS roots, timeouts)", t);
        let t = Instant::now();
        std::hint::black_box(aws_sdk_dynamodb::Client::new(&sdk));
        time("DynamoDB client", t);
        let t = Instant::now();
        std::hint::black_box((
            aws_sdk_sesv2::Client::new(&sdk),
            aws_sdk_sns::Client::new(&sdk),
        ));
        time("SES and SNS clients (delivery)", t);
        let t = Instant::now();
        let secret = aws_sdk_secretsmanager_json(&sdk).await?;
        time(
            "GetSecretValue of the signing secret: client, connection, signed call, the stand-in's delay (in the background since init)",
            t,
        );
        let t = Instant::now();
        let secrets = auth_shared::secrets::signing_keys_from_json(&secret)?;
        time("the signing secret parsed: the RSA key checked and kept", t);
        let t = Instant::now();
        let keys = auth_shared::ops::discovery::public_key_set(&jwks)?;
        std::hint::black_box(TokenVerifier::new(&keys, "https://bench.example", "bench")?);
        time("the verifier from JWT_PUBLIC_JWKS", t);
        let t = Instant::now();
        std::hint::black_box(PasswordHasher::new()?);
        time("argon2id hasher", t);
        std::hint::black_box(secrets);
    }
    println!("| step | first (cold) | median of the next 20 |");
    println!("|---|---|---|");
    for name in order {
        let times = &steps[name];
        println!(
            "| {name} | {:.2} ms | {:.3} ms |",
            times[0],
            median(times[1..].to_vec())
        );
    }
    Ok(())
}

async fn aws_sdk_secretsmanager_json(sdk: &aws_config::SdkConfig) -> Result<String, Error> {
    let out = aws_sdk_secretsmanager::Client::new(sdk)
        .get_secret_value()
        .secret_id("bench-signing")
        .send()
        .await?;
    Ok(out.secret_string().ok_or("no secret string")?.to_owned())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("crypto") => crypto_report().await,
        Some("argon2-memory") => argon2_memory().await,
        Some("init-steps") => init_steps().await,
        Some("import") => {
            let users = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(10_000);
            import::import_report(users).await
        }
        Some("lambda") => {
            let dir = args
                .get(1)
                .ok_or("lambda needs the directory of the release binaries")?;
            let requests = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(2000);
            let starts = args
                .get(3)
                .and_then(|n| n.parse().ok())
                .unwrap_or(INIT_STARTS);
            lambda_report(Path::new(dir), requests, starts).await
        }
        _ => {
            Err("usage: auth-bench crypto | lambda DIR [REQUESTS] [STARTS] | argon2-memory | import [USERS]".into())
        }
    }
}
