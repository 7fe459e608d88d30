//! `authctl`: the operators' CLI. Every command is one invocation of the service's `admin`
//! function (`lambda:InvokeFunction` with the caller's AWS credentials: IAM decides who may),
//! which applies it through the service's own rules and records it in the user's audit trail
//! under the caller's principal (from STS).
//!
//! Locally (`make dev`), `AWS_ENDPOINT_URL_LAMBDA` points at `cargo lambda watch`, which
//! serves the Lambda Invoke API, and `AWS_ENDPOINT_URL_STS` at moto; in AWS, pass
//! `--function <stack>-admin` (and `--region`/`--profile` as for any AWS tool).
//!
//! With `--json`, a command prints one JSON document on stdout, or exits 1 with a JSON
//! `{code, detail}` on stderr; without it, a readable table.

use std::io::{BufRead, Write as _};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde_json::{Value, json};

#[derive(Parser)]
#[command(
    name = "authctl",
    version,
    about = "Operate an auth-service deployment"
)]
struct Cli {
    /// The admin function's name (in AWS: `<stack>-admin`).
    #[arg(long, global = true, env = "AUTHCTL_FUNCTION", default_value = "admin")]
    function: String,
    /// The AWS region (otherwise the SDK's usual sources: AWS_REGION, the profile).
    #[arg(long, global = true)]
    region: Option<String>,
    /// The AWS profile to use.
    #[arg(long, global = true)]
    profile: Option<String>,
    /// One JSON document on stdout; on failure a JSON `{code, detail}` on stderr.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Top,
}

#[derive(Subcommand)]
enum Top {
    /// Commands about one user (by user id, email or phone), or all of them.
    #[command(subcommand)]
    User(UserCommand),
    /// Imports users from a JSON Lines file (one user a line; see the README), reporting
    /// each line on stdout as JSON. Idempotent: a line whose identifier is taken reports
    /// `exists`, so a stopped import is resumed by running it again (or with --from-line).
    Import {
        file: std::path::PathBuf,
        /// The first line to send (1-based).
        #[arg(long, default_value_t = 1)]
        from_line: usize,
        /// Lines per invocation.
        #[arg(long, default_value_t = 250)]
        batch: usize,
    },
    /// Commands about the user events other services receive.
    #[command(subcommand)]
    Events(EventsCommand),
}

#[derive(Subcommand)]
enum EventsCommand {
    /// Sends one subscribing service the events of a period, or of one user, again (from the
    /// outbox, which keeps 7 days), with their original event ids; the other services
    /// receive nothing.
    Replay {
        /// The service, as SubscriberServices names it (e.g. blog).
        #[arg(long)]
        service: String,
        /// From when: an RFC 3339 time or a time ago (90m, 6h, 2d); with --user, by default
        /// as far back as the outbox keeps.
        #[arg(long, required_unless_present = "user")]
        since: Option<String>,
        /// Until when (by default now).
        #[arg(long)]
        until: Option<String>,
        /// Only this user's events (user id, email or phone; a deleted account by its id).
        #[arg(long)]
        user: Option<String>,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Profile, factors, providers, live sessions, sign-in lock.
    Show {
        user: String,
    },
    /// Accounts, a page at a time.
    List {
        /// Only accounts not verified yet.
        #[arg(long)]
        unverified: bool,
        /// Only accounts created after this RFC 3339 time.
        #[arg(long)]
        created_after: Option<String>,
        /// The `next_cursor` of the previous page.
        #[arg(long)]
        cursor: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i32,
    },
    /// Ends every session and refuses every sign-in until enabled.
    Disable {
        user: String,
        /// Why (kept in the user's audit trail).
        #[arg(long)]
        reason: String,
    },
    Enable {
        user: String,
    },
    /// Clears the sign-in lock, the send counter and the code-try window of the identifier.
    Unlock {
        user: String,
    },
    /// Sends the user a password-reset link or code, as "Forgot your password?" does.
    ResetPassword {
        user: String,
    },
    /// The live sessions.
    Sessions {
        user: String,
    },
    /// Ends every session (the user signs in again).
    RevokeSessions {
        user: String,
    },
    /// Deletes the account as `DELETE /me` does (`user.deleted` with reason `admin`).
    Delete {
        user: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Everything stored about the user, as one JSON document (no hash, secret or code).
    Export {
        user: String,
    },
    /// The user's audit trail, newest first.
    Activity {
        user: String,
        #[arg(long)]
        cursor: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i32,
    },
}

struct Failure {
    code: String,
    detail: String,
}

impl Failure {
    fn new(code: &str, detail: impl std::fmt::Display) -> Self {
        Self {
            code: code.to_owned(),
            detail: detail.to_string(),
        }
    }
}

struct Admin {
    lambda: aws_sdk_lambda::Client,
    function: String,
    actor: String,
}

impl Admin {
    async fn connect(cli: &Cli) -> Result<Self, Failure> {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(region) = &cli.region {
            loader = loader.region(aws_config::Region::new(region.clone()));
        }
        if let Some(profile) = &cli.profile {
            loader = loader.profile_name(profile);
        }
        let sdk = loader.load().await;
        // Who is asking, as AWS knows them: the audit trail names this principal.
        let identity = aws_sdk_sts::Client::new(&sdk)
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| {
                Failure::new(
                    "no_credentials",
                    format!(
                        "could not tell who you are (STS GetCallerIdentity): {}",
                        aws_sdk_sts::error::DisplayErrorContext(e)
                    ),
                )
            })?;
        Ok(Self {
            lambda: aws_sdk_lambda::Client::new(&sdk),
            function: cli.function.clone(),
            actor: identity.arn.unwrap_or_default(),
        })
    }

    /// Runs `command` in the admin function: its result, or its failure.
    async fn call(&self, command: Value) -> Result<Value, Failure> {
        let payload = json!({ "actor": self.actor, "command": command });
        let out = self
            .lambda
            .invoke()
            .function_name(&self.function)
            .payload(aws_sdk_lambda::primitives::Blob::new(payload.to_string()))
            .send()
            .await
            .map_err(|e| {
                Failure::new(
                    "invoke_failed",
                    format!(
                        "could not invoke {}: {}",
                        self.function,
                        aws_sdk_lambda::error::DisplayErrorContext(e)
                    ),
                )
            })?;
        let body = out.payload.map(|b| b.into_inner()).unwrap_or_default();
        if let Some(error) = out.function_error {
            return Err(Failure::new(
                "function_error",
                format!("{error}: {}", String::from_utf8_lossy(&body)),
            ));
        }
        let answer: Value = serde_json::from_slice(&body).map_err(|e| {
            Failure::new("bad_answer", format!("the function answered no JSON: {e}"))
        })?;
        if answer["ok"] == true {
            Ok(answer["result"].clone())
        } else {
            Err(Failure::new(
                answer["error"]["code"].as_str().unwrap_or("unknown"),
                answer["error"]["detail"].as_str().unwrap_or(""),
            ))
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let json_out = cli.json;
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            if json_out {
                eprintln!(
                    "{}",
                    json!({ "code": failure.code, "detail": failure.detail })
                );
            } else {
                eprintln!("authctl: {} ({})", failure.detail, failure.code);
            }
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let admin = Admin::connect(&cli).await?;
    let json_out = cli.json;
    match cli.command {
        Top::User(command) => user(&admin, command, json_out).await,
        Top::Import {
            file,
            from_line,
            batch,
        } => import(&admin, &file, from_line, batch.clamp(1, 1000), json_out).await,
        Top::Events(EventsCommand::Replay {
            service,
            since,
            until,
            user,
        }) => {
            let result = admin
                .call(json!({ "name": "replay", "service": service, "since": since, "until": until, "user": user }))
                .await?;
            if json_out {
                println!("{result}");
            } else {
                print_fields(&result);
            }
            Ok(())
        }
    }
}

async fn user(admin: &Admin, command: UserCommand, json_out: bool) -> Result<(), Failure> {
    let (request, view): (Value, fn(&Value)) = match command {
        UserCommand::Show { user } => (json!({ "name": "show", "user": user }), print_user),
        UserCommand::List {
            unverified,
            created_after,
            cursor,
            limit,
        } => (
            json!({ "name": "list", "unverified": unverified, "created_after": created_after, "cursor": cursor, "limit": limit }),
            print_users,
        ),
        UserCommand::Disable { user, reason } => (
            json!({ "name": "disable", "user": user, "reason": reason }),
            print_fields,
        ),
        UserCommand::Enable { user } => (json!({ "name": "enable", "user": user }), print_fields),
        UserCommand::Unlock { user } => (json!({ "name": "unlock", "user": user }), print_fields),
        UserCommand::ResetPassword { user } => (
            json!({ "name": "reset-password", "user": user }),
            print_fields,
        ),
        UserCommand::Sessions { user } => {
            (json!({ "name": "sessions", "user": user }), print_sessions)
        }
        UserCommand::RevokeSessions { user } => (
            json!({ "name": "revoke-sessions", "user": user }),
            print_fields,
        ),
        UserCommand::Delete { user, yes } => {
            if !yes && !confirmed(&format!("Delete the account {user} for good?")) {
                return Err(Failure::new(
                    "not_confirmed",
                    "nothing deleted (pass --yes to skip the question)",
                ));
            }
            (json!({ "name": "delete", "user": user }), print_fields)
        }
        UserCommand::Export { user } => (json!({ "name": "export", "user": user }), print_pretty),
        UserCommand::Activity {
            user,
            cursor,
            limit,
        } => (
            json!({ "name": "activity", "user": user, "cursor": cursor, "limit": limit }),
            print_activity,
        ),
    };
    let result = admin.call(strip_nulls(request)).await?;
    if json_out {
        println!("{result}");
    } else {
        view(&result);
    }
    Ok(())
}

/// Optional arguments left out are absent, not `null`.
fn strip_nulls(mut value: Value) -> Value {
    if let Value::Object(map) = &mut value {
        map.retain(|_, v| !v.is_null());
    }
    value
}

fn confirmed(question: &str) -> bool {
    use std::io::IsTerminal as _;
    if !std::io::stdin().is_terminal() {
        return false;
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer).is_ok() && answer.trim().eq_ignore_ascii_case("y")
}

async fn import(
    admin: &Admin,
    file: &std::path::Path,
    from_line: usize,
    batch: usize,
    json_out: bool,
) -> Result<(), Failure> {
    let reader = std::fs::File::open(file)
        .map(std::io::BufReader::new)
        .map_err(|e| Failure::new("unreadable_file", format!("{}: {e}", file.display())))?;
    let mut counts = std::collections::BTreeMap::<String, u64>::new();
    let mut pending: Vec<(usize, String)> = Vec::new();
    let started = std::time::Instant::now();
    let mut lines = reader.lines().enumerate();
    loop {
        let next = lines.next();
        if let Some((index, line)) = &next {
            let number = index + 1;
            let line = line
                .as_ref()
                .map_err(|e| Failure::new("unreadable_file", format!("line {number}: {e}")))?;
            if number >= from_line && !line.trim().is_empty() {
                pending.push((number, line.clone()));
            }
        }
        if pending.len() >= batch || (next.is_none() && !pending.is_empty()) {
            let lines: Vec<Value> = pending.drain(..).map(|(n, l)| json!([n, l])).collect();
            let result = admin
                .call(json!({ "name": "import", "lines": lines }))
                .await?;
            for report in result["report"].as_array().into_iter().flatten() {
                let status = report["status"].as_str().unwrap_or("unknown").to_owned();
                *counts.entry(status).or_default() += 1;
                println!("{report}");
            }
        }
        if next.is_none() {
            break;
        }
    }
    let summary = json!({ "counts": counts, "seconds": started.elapsed().as_secs_f64() });
    if json_out {
        eprintln!("{summary}");
    } else {
        eprintln!(
            "imported: {} in {:.1} s",
            counts
                .iter()
                .map(|(status, n)| format!("{n} {status}"))
                .collect::<Vec<_>>()
                .join(", "),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

fn text(value: &Value) -> String {
    match value {
        Value::Null => "-".to_owned(),
        Value::String(s) => s.clone(),
        Value::Array(items) if items.is_empty() => "-".to_owned(),
        Value::Array(items) => items.iter().map(text).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

fn print_fields(value: &Value) {
    if let Value::Object(map) = value {
        let width = map.keys().map(String::len).max().unwrap_or(0);
        for (key, value) in map {
            match value {
                Value::Object(inner) => {
                    let inner: Vec<String> = inner
                        .iter()
                        .map(|(k, v)| format!("{k}={}", text(v)))
                        .collect();
                    println!("{key:width$}  {}", inner.join(" "));
                }
                other => println!("{key:width$}  {}", text(other)),
            }
        }
    } else {
        println!("{value}");
    }
}

fn print_user(value: &Value) {
    print_fields(value);
}

fn print_pretty(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

fn table(headers: &[&str], rows: Vec<Vec<String>>) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:w$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(headers.iter().map(|h| (*h).to_owned()).collect());
    for row in rows {
        line(row);
    }
}

fn print_users(value: &Value) {
    let rows = value["users"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|u| {
            vec![
                text(&u["user_id"]),
                text(if u["email"].is_null() {
                    &u["phone"]
                } else {
                    &u["email"]
                }),
                text(&u["verified"]),
                text(&u["disabled"]),
                text(&u["created_at"]),
            ]
        })
        .collect();
    table(
        &[
            "USER ID",
            "EMAIL OR PHONE",
            "VERIFIED",
            "DISABLED",
            "CREATED",
        ],
        rows,
    );
    if let Some(next) = value["next_cursor"].as_str() {
        println!("next page: --cursor {next}");
    }
}

fn print_sessions(value: &Value) {
    let rows = value["sessions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            vec![
                text(&s["id"]),
                text(&s["created_at"]),
                text(&s["last_used_at"]),
                text(&s["ip"]),
                text(&s["user_agent"]),
            ]
        })
        .collect();
    table(
        &["SESSION", "STARTED", "LAST USED", "IP", "USER AGENT"],
        rows,
    );
}

fn print_activity(value: &Value) {
    let rows = value["activity"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            vec![
                text(&a["at"]),
                text(&a["event"]),
                text(&a["amr"]),
                text(&a["ip"]),
                text(&a["actor"]),
                text(&a["detail"]),
            ]
        })
        .collect();
    table(&["AT", "EVENT", "HOW", "IP", "BY", "DETAIL"], rows);
    if let Some(next) = value["next_cursor"].as_str() {
        println!("next page: --cursor {next}");
    }
}
