//! The operators' CLI end to end: the `authctl` binary, with the AWS SDK's own endpoint
//! settings (`AWS_ENDPOINT_URL_LAMBDA` at `cargo lambda watch`'s Invoke API, STS at moto),
//! invoking the `admin` function, whose changes the HTTP routes then answer by.

use std::process::Command;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::signin::verified_email_account;
use crate::{api, post_json};

const PASSWORD: &str = "correct horse battery staple";

/// `authctl --json <args>`: its exit status, and the document it printed (stdout when it
/// succeeded, stderr when it failed).
pub(crate) fn authctl(args: &[&str]) -> (bool, Value) {
    let exe = std::env::current_exe().expect("the test binary's path");
    let binary = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/debug")
        .join("authctl");
    let out = Command::new(&binary)
        .arg("--json")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e} (cargo build -p authctl)", binary.display()));
    let printed = if out.status.success() {
        &out.stdout
    } else {
        &out.stderr
    };
    let text = String::from_utf8_lossy(printed);
    let document = serde_json::from_str(text.trim())
        .unwrap_or_else(|e| panic!("authctl {args:?} printed no JSON ({e}): {text}"));
    (out.status.success(), document)
}

async fn sign_in(email: &str) -> (StatusCode, Value) {
    let (status, _, body) =
        post_json("/login", json!({ "email": email, "password": PASSWORD })).await;
    (status, body)
}

async fn me(token: &str) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .get(api("/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn authctl_disables_enables_shows_exports_and_deletes_through_the_admin_function() {
    let email = verified_email_account().await;
    let (status, pair) = sign_in(&email).await;
    assert_eq!(status, 200, "{pair}");
    let token = pair["access_token"].as_str().unwrap().to_owned();

    let (ok, shown) = authctl(&["user", "show", &email]);
    assert!(ok, "{shown}");
    assert_eq!(shown["email"], email);
    assert_eq!(shown["disabled"], false);
    assert_eq!(shown["sessions"], 2);
    let user_id = shown["user_id"].as_str().unwrap().to_owned();
    for field in [
        "username",
        "verified",
        "created_at",
        "factors",
        "providers",
        "provisioning",
    ] {
        assert!(shown.get(field).is_some(), "{field} in {shown}");
    }
    // One entry per configured service, whatever the stand-ins have answered by now.
    let provisioning = shown["provisioning"].as_object().unwrap();
    assert_eq!(
        provisioning.keys().collect::<Vec<_>>(),
        ["blog", "social"],
        "{shown}"
    );

    let (ok, failed) = authctl(&["user", "show", "nobody-here@example.com"]);
    assert!(!ok);
    assert_eq!(failed["code"], "user_not_found");

    // Disabled: the routes answer 403 account_disabled, to the token and to the password.
    let (ok, done) = authctl(&["user", "disable", &user_id, "--reason", "e2e"]);
    assert!(ok, "{done}");
    let (status, body) = me(&token).await;
    assert_eq!(
        (status.as_u16(), body["code"].as_str()),
        (403, Some("account_disabled"))
    );
    let (status, body) = sign_in(&email).await;
    assert_eq!(
        (status.as_u16(), body["code"].as_str()),
        (403, Some("account_disabled"))
    );
    let (status, _, body) = post_json(
        "/token",
        json!({ "grant_type": "refresh_token", "refresh_token": pair["refresh_token"] }),
    )
    .await;
    assert_eq!(
        (status.as_u16(), body["code"].as_str()),
        (403, Some("account_disabled"))
    );

    let (ok, _) = authctl(&["user", "enable", &email]);
    assert!(ok);
    let (status, again) = sign_in(&email).await;
    assert_eq!(status, 200, "{again}");

    // The activity names the operator; the export holds no secret.
    let (ok, activity) = authctl(&["user", "activity", &email, "--limit", "5"]);
    assert!(ok, "{activity}");
    let events: Vec<&str> = activity["activity"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        &events[..3],
        ["signed_in", "account_enabled", "account_disabled"]
    );
    assert!(
        activity["activity"][1]["actor"]
            .as_str()
            .is_some_and(|a| a.starts_with("arn:aws:")),
        "{activity}"
    );
    let (ok, export) = authctl(&["user", "export", &email]);
    assert!(ok);
    assert_eq!(export["user_id"], user_id);
    let text = export.to_string();
    for secret in ["password_hash", "$argon2", "digest", PASSWORD] {
        assert!(!text.contains(secret), "{secret} in the export");
    }

    let (ok, sessions) = authctl(&["user", "sessions", &email]);
    assert!(ok);
    assert_eq!(sessions["sessions"].as_array().unwrap().len(), 1);
    let (ok, _) = authctl(&["user", "revoke-sessions", &email]);
    assert!(ok);
    let (status, _) = me(again["access_token"].as_str().unwrap()).await;
    assert_eq!(status, 401);

    let (ok, _) = authctl(&["user", "unlock", &email]);
    assert!(ok);
    let (ok, reset) = authctl(&["user", "reset-password", &email]);
    assert!(ok, "{reset}");

    let (ok, deleted) = authctl(&["user", "delete", &email, "--yes"]);
    assert!(ok, "{deleted}");
    let (status, body) = sign_in(&email).await;
    assert_eq!(
        (status.as_u16(), body["code"].as_str()),
        (401, Some("invalid_credentials"))
    );
    let (ok, failed) = authctl(&["user", "show", &user_id]);
    assert!(!ok);
    assert_eq!(failed["code"], "user_not_found");
}

#[tokio::test]
async fn authctl_lists_accounts_a_page_at_a_time() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let since = auth_shared::events::rfc3339(now - 2);
    let email = verified_email_account().await;
    let (ok, page) = authctl(&["user", "list", "--limit", "2"]);
    assert!(ok, "{page}");
    assert_eq!(page["users"].as_array().unwrap().len(), 2);
    let cursor = page["next_cursor"]
        .as_str()
        .expect("more than two accounts");
    let (ok, next) = authctl(&["user", "list", "--limit", "2", "--cursor", cursor]);
    assert!(ok);
    assert_ne!(page["users"][0]["user_id"], next["users"][0]["user_id"]);
    // Created a moment ago: among those created since.
    let mut found = false;
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let mut args = vec!["user", "list", "--limit", "50", "--created-after", &since];
        if let Some(next) = &cursor {
            args.extend(["--cursor", next.as_str()]);
        }
        let (ok, page) = authctl(&args);
        assert!(ok, "{page}");
        found |= page["users"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["email"] == email);
        match page["next_cursor"].as_str() {
            Some(next) if !found => cursor = Some(next.to_owned()),
            _ => break,
        }
    }
    assert!(found);
    let (ok, failed) = authctl(&["user", "list", "--created-after", "yesterday"]);
    assert!(!ok);
    assert_eq!(failed["code"], "invalid_request");
}

#[tokio::test]
async fn authctl_imports_a_file_a_line_at_a_time_and_an_imported_user_signs_in() {
    let email = auth_tests::unique_email();
    let legacy = bcrypt::hash(PASSWORD, 4).unwrap();
    let file = std::env::temp_dir().join(format!("import-{}.jsonl", uuid::Uuid::new_v4()));
    let lines = [
        json!({ "email": email, "verified": true, "password_hash": legacy }).to_string(),
        "not json".to_owned(),
        String::new(),
        json!({ "email": email, "verified": true, "password_hash": legacy }).to_string(),
    ];
    std::fs::write(&file, lines.join("\n")).unwrap();
    let run = || {
        let exe = std::env::current_exe().unwrap();
        let binary = exe
            .parent()
            .and_then(|d| d.parent())
            .unwrap()
            .join("authctl");
        let out = Command::new(binary)
            .args(["--json", "import", file.to_str().unwrap(), "--batch", "2"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let reports: Vec<Value> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let summary: Value = serde_json::from_slice(&out.stderr).unwrap();
        (reports, summary)
    };
    let (reports, summary) = run();
    let statuses: Vec<(u64, &str)> = reports
        .iter()
        .map(|r| (r["line"].as_u64().unwrap(), r["status"].as_str().unwrap()))
        .collect();
    // The blank line is skipped; the file's second copy of the user is the one account's.
    assert_eq!(statuses, [(1, "created"), (2, "invalid"), (4, "exists")]);
    assert_eq!(summary["counts"]["created"], 1);

    // The old hash signs in over HTTP (and is re-hashed there).
    let (status, pair) = sign_in(&email).await;
    assert_eq!(status, 200, "{pair}");

    // Again: nothing more.
    let (reports, _) = run();
    assert_eq!(reports[0]["status"], "exists");
    std::fs::remove_file(&file).ok();
}
