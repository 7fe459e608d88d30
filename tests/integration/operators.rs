//! Operators' commands (the `admin` function's operations): disabling and enabling an
//! account (and a refresh racing the disable), showing, listing, unlocking, resetting,
//! sessions, deleting, exporting, and the audit trail they and the user's own actions leave.

use std::time::Instant;

use auth_shared::events::{USER_DELETED, USER_DISABLED, USER_ENABLED};
use auth_shared::ops::Base as _;
use auth_shared::ops::admin::{AdminRequest, AdminResponse, run};
use auth_shared::ops::audit;
use auth_shared::ops::bearer::authenticate;
use auth_shared::ops::login::login;
use auth_shared::ops::session::{TokenPair, refresh};
use auth_tests::TestApp;
use serde_json::{Value, json};

use crate::code;
use crate::sessions::exchange;
use crate::signin::{by_email_login, verified_email};

const PASSWORD: &str = "correct horse battery staple";
const ACTOR: &str = "arn:aws:iam::123456789012:user/ops-alice";

/// Runs an operator's command: its result, or the error's code.
async fn admin(t: &TestApp, command: Value) -> Result<Value, String> {
    let request: AdminRequest =
        serde_json::from_value(json!({ "actor": ACTOR, "command": command })).expect("a request");
    match run(&t.app, request).await {
        AdminResponse::Ok { result, .. } => Ok(result),
        AdminResponse::Failed { error, .. } => Err(error.code),
    }
}

async fn signed_in(t: &TestApp, email: &str) -> TokenPair {
    login(&t.app, by_email_login(email, PASSWORD))
        .await
        .expect("signed in")
}

async fn events_of(t: &TestApp, user_id: &str) -> Vec<String> {
    auth_tests::events::pending_events_of(t.app.store(), user_id)
        .await
        .into_iter()
        .map(|e| e.event_type)
        .collect()
}

async fn activity(t: &TestApp, user: &str) -> Vec<Value> {
    let page = admin(t, json!({ "name": "activity", "user": user, "limit": 100 }))
        .await
        .unwrap();
    page["activity"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_disabled_account_signs_in_nowhere_until_enabled() {
    let t = TestApp::new().await;
    let email = verified_email(&t).await;
    let pair = signed_in(&t, &email).await;
    let user_id = authenticate(&t.app, Some(&pair.access_token))
        .await
        .unwrap()
        .user
        .user_id;

    // A reason is required.
    assert_eq!(
        admin(
            &t,
            json!({ "name": "disable", "user": email, "reason": " " })
        )
        .await,
        Err("invalid_request".into())
    );
    // A second between steps: the audit trail orders by time.
    t.clock.advance(1);
    let disabled = admin(
        &t,
        json!({ "name": "disable", "user": email, "reason": "fraud report #42" }),
    )
    .await
    .unwrap();
    assert_eq!(disabled["disabled"], true);

    // The session ended and every route says why; a wrong password still says only that.
    assert_eq!(
        code(authenticate(&t.app, Some(&pair.access_token)).await),
        "account_disabled"
    );
    assert_eq!(
        code(refresh(&t.app, exchange(&pair.refresh_token)).await),
        "account_disabled"
    );
    assert_eq!(
        code(login(&t.app, by_email_login(&email, PASSWORD)).await),
        "account_disabled"
    );
    t.clock.advance(1);
    assert_eq!(
        code(login(&t.app, by_email_login(&email, "a wrong password")).await),
        "invalid_credentials"
    );
    t.clock.advance(1);
    let shown = admin(&t, json!({ "name": "show", "user": user_id }))
        .await
        .unwrap();
    assert_eq!(shown["disabled"], true);
    assert_eq!(shown["disabled_reason"], "fraud report #42");
    assert_eq!(shown["sessions"], 0);
    // Again: already so, nothing written.
    let again = admin(
        &t,
        json!({ "name": "disable", "user": email, "reason": "again" }),
    )
    .await
    .unwrap();
    assert_eq!(again["already"], true);

    t.clock.advance(1);
    admin(&t, json!({ "name": "enable", "user": email }))
        .await
        .unwrap();
    t.clock.advance(1);
    let back = signed_in(&t, &email).await;
    let me = authenticate(&t.app, Some(&back.access_token))
        .await
        .expect("enabled: signed in again");
    // The user's own view says an operator acted, not which principal.
    let mine = audit::mine(&t.app, &me, None, None).await.unwrap().activity;
    let by_operators: Vec<_> = mine.iter().filter_map(|a| a.actor.as_deref()).collect();
    // The enable, the show (an operator's read is recorded too) and the disable.
    assert_eq!(by_operators, [audit::BY_AN_OPERATOR; 3]);
    // The old session stays ended.
    assert_eq!(
        code(refresh(&t.app, exchange(&pair.refresh_token)).await),
        "invalid_grant"
    );

    let events = events_of(&t, &user_id).await;
    let toggles: Vec<&str> = events
        .iter()
        .map(String::as_str)
        .filter(|e| *e == USER_DISABLED || *e == USER_ENABLED)
        .collect();
    assert_eq!(toggles, [USER_DISABLED, USER_ENABLED]);

    // The audit trail: newest first, the operator named, the reason kept, no secret.
    let trail = activity(&t, &user_id).await;
    let kinds: Vec<&str> = trail.iter().map(|a| a["event"].as_str().unwrap()).collect();
    assert_eq!(
        &kinds[..6],
        [
            audit::SIGNED_IN,
            audit::ACCOUNT_ENABLED,
            audit::OPERATOR_ACTION,
            audit::SIGN_IN_FAILED,
            audit::ACCOUNT_DISABLED,
            audit::SIGNED_IN
        ]
    );
    assert_eq!(trail[2]["detail"], "show", "an operator's read is recorded");
    assert_eq!(trail[4]["actor"], ACTOR);
    assert_eq!(trail[4]["detail"], "fraud report #42");
    assert_eq!(trail[0]["amr"], json!(["pwd"]));
    assert!(!serde_json::to_string(&trail).unwrap().contains(PASSWORD));
}

#[tokio::test]
async fn a_refresh_racing_the_disable_never_succeeds_once_the_disable_has_committed() {
    let t = TestApp::new().await;
    let email = verified_email(&t).await;
    // Four sessions refreshing as fast as they can while the account is disabled.
    let mut sessions = Vec::new();
    for _ in 0..4 {
        sessions.push(signed_in(&t, &email).await);
    }
    let refreshers = sessions.into_iter().map(|pair| async {
        let mut token = pair.refresh_token;
        let mut successes = Vec::new();
        loop {
            let asked = Instant::now();
            match refresh(&t.app, exchange(&token)).await {
                Ok(next) => {
                    successes.push(asked);
                    token = next.refresh_token;
                }
                Err(error) => return (successes, error.code(), token),
            }
        }
    });
    let disable = async {
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
        admin(
            &t,
            json!({ "name": "disable", "user": email, "reason": "race" }),
        )
        .await
        .unwrap();
        Instant::now()
    };
    let (results, committed) = tokio::join!(futures::future::join_all(refreshers), disable);
    let mut total = 0;
    for (successes, last_error, token) in results {
        total += successes.len();
        assert!(
            successes.iter().all(|asked| *asked < committed),
            "a refresh asked after the disable committed succeeded"
        );
        assert_eq!(last_error, "account_disabled");
        assert_eq!(
            code(refresh(&t.app, exchange(&token)).await),
            "account_disabled"
        );
    }
    assert!(total > 0, "the refreshes ran before the disable");
}

#[tokio::test]
async fn operators_show_list_unlock_reset_and_end_sessions_through_the_service_s_rules() {
    let t = TestApp::new().await;
    let email = verified_email(&t).await;
    let pair = signed_in(&t, &email).await;
    assert_eq!(
        admin(&t, json!({ "name": "show", "user": "nobody@example.com" })).await,
        Err("user_not_found".into())
    );
    assert_eq!(
        admin(&t, json!({ "name": "show", "user": "not an identifier" })).await,
        Err("invalid_phone".into())
    );
    // Three wrong passwords: the identifier's run of failures shows, and unlock clears it.
    for _ in 0..3 {
        login(&t.app, by_email_login(&email, "a wrong password"))
            .await
            .unwrap_err();
    }
    let shown = admin(&t, json!({ "name": "show", "user": email.to_uppercase() }))
        .await
        .unwrap();
    assert_eq!(shown["email"], email);
    assert_eq!(shown["verified"], true);
    // The confirmation's session and the sign-in's.
    assert_eq!(shown["sessions"], 2);
    assert_eq!(shown["login_lock"]["failures"], 3);
    assert_eq!(shown["factors"], json!([]));
    assert_eq!(shown["has_password"], true);
    // Nothing answers the integration tests' user.created: both services are pending.
    assert_eq!(
        shown["provisioning"],
        json!({ "blog": "pending", "social": "pending" })
    );
    admin(&t, json!({ "name": "unlock", "user": email }))
        .await
        .unwrap();
    let shown = admin(&t, json!({ "name": "show", "user": email }))
        .await
        .unwrap();
    assert_eq!(shown["login_lock"]["failures"], 0);

    // The listing finds it among the accounts created since just before it.
    let since = auth_shared::events::rfc3339(t.app.now() - 1);
    let mut cursor: Option<String> = None;
    let mut found = false;
    for _ in 0..200 {
        let mut command = json!({ "name": "list", "created_after": since, "limit": 5 });
        if let Some(c) = &cursor {
            command["cursor"] = json!(c);
        }
        let page = admin(&t, command).await.unwrap();
        found |= page["users"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["email"] == email);
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert!(found, "the account is listed");
    assert_eq!(
        admin(&t, json!({ "name": "list", "cursor": "forged" })).await,
        Err("invalid_request".into())
    );

    // Sessions, and ending them all: the user's token stops working at once.
    let sessions = admin(&t, json!({ "name": "sessions", "user": email }))
        .await
        .unwrap();
    assert_eq!(sessions["sessions"].as_array().unwrap().len(), 2);
    admin(&t, json!({ "name": "revoke-sessions", "user": email }))
        .await
        .unwrap();
    assert_eq!(
        code(authenticate(&t.app, Some(&pair.access_token)).await),
        "invalid_token"
    );
    assert_eq!(
        code(refresh(&t.app, exchange(&pair.refresh_token)).await),
        "invalid_grant"
    );

    // A reset is requested as "Forgot your password?" would (the sender mails it).
    let reset = admin(&t, json!({ "name": "reset-password", "user": email }))
        .await
        .unwrap();
    assert_eq!(reset["reset_link_sent_to"], email);

    let kinds: Vec<String> = activity(&t, &email)
        .await
        .iter()
        .map(|a| {
            format!(
                "{} {}",
                a["event"].as_str().unwrap(),
                a["detail"].as_str().unwrap_or("")
            )
        })
        .collect();
    for expected in [
        "operator_action reset-password",
        "sessions_ended ",
        "operator_action unlock",
        "sign_in_failed ",
        "signed_in ",
    ] {
        assert!(
            kinds.contains(&expected.to_owned()),
            "{expected} in {kinds:?}"
        );
    }
}

#[tokio::test]
async fn an_operator_s_delete_is_the_account_deletion_and_an_export_holds_no_secret() {
    let t = TestApp::new().await;
    let email = verified_email(&t).await;
    let pair = signed_in(&t, &email).await;
    let user_id = authenticate(&t.app, Some(&pair.access_token))
        .await
        .unwrap()
        .user
        .user_id;

    let export = admin(&t, json!({ "name": "export", "user": user_id }))
        .await
        .unwrap();
    assert_eq!(export["user_id"], user_id);
    assert_eq!(export["profile"]["identifier"], email);
    // The confirmation's session and the sign-in's.
    assert_eq!(export["sessions"].as_array().unwrap().len(), 2);
    assert!(!export["activity"].as_array().unwrap().is_empty());
    assert!(
        export["claims"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c.as_str().unwrap().ends_with(&email))
    );
    let text = export.to_string();
    for secret in [
        "password_hash",
        "$argon2",
        "digest",
        "\"secret\"",
        "recovery",
        PASSWORD,
    ] {
        assert!(!text.contains(secret), "{secret} in the export");
    }

    admin(&t, json!({ "name": "delete", "user": email }))
        .await
        .unwrap();
    assert_eq!(
        code(authenticate(&t.app, Some(&pair.access_token)).await),
        "invalid_token"
    );
    assert_eq!(
        admin(&t, json!({ "name": "show", "user": email })).await,
        Err("user_not_found".into())
    );
    assert!(
        events_of(&t, &user_id)
            .await
            .contains(&USER_DELETED.to_owned())
    );
    // The address is free again (once its one-a-minute send limit allows a code).
    t.clock.advance(61);
    crate::signin::verified_email_as(&t, &email).await;
}

#[tokio::test]
async fn the_user_reads_their_own_activity_a_page_at_a_time() {
    let t = TestApp::new().await;
    let email = verified_email(&t).await;
    for _ in 0..3 {
        signed_in(&t, &email).await;
        t.clock.advance(1);
    }
    let pair = signed_in(&t, &email).await;
    let caller = authenticate(&t.app, Some(&pair.access_token))
        .await
        .unwrap();
    let first = audit::mine(&t.app, &caller, None, Some("2")).await.unwrap();
    assert_eq!(first.activity.len(), 2);
    let cursor = first.next_cursor.clone().expect("more");
    let second = audit::mine(&t.app, &caller, Some(&cursor), Some("2"))
        .await
        .unwrap();
    assert_eq!(second.activity.len(), 2);
    assert!(
        first.activity[1].at >= second.activity[0].at,
        "newest first"
    );
    assert_ne!(first.activity, second.activity);
    assert_eq!(
        code(audit::mine(&t.app, &caller, Some("USER#someone-else"), None).await),
        "invalid_request"
    );
    assert_eq!(
        code(audit::mine(&t.app, &caller, None, Some("1000")).await),
        "invalid_request"
    );
}

#[tokio::test]
async fn the_user_s_own_changes_are_in_their_activity_with_where_they_came_from() {
    use auth_shared::ops::budgets::Origin;
    use auth_shared::ops::password::{ChangeRequest, change};
    use auth_shared::ops::session::{revoke_all, revoke_one};
    use auth_shared::ops::totp::{
        CodeRequest, DisableRequest, StepUpRequest, confirm, disable, enrol, replace_recovery_codes,
    };
    let t = TestApp::new().await;
    let email = verified_email(&t).await;
    let other = signed_in(&t, &email).await;
    let pair = signed_in(&t, &email).await;
    let from = Origin {
        ip: Some("198.51.100.7".into()),
        user_agent: Some("activity-test".into()),
    };
    let me = authenticate(&t.app, Some(&pair.access_token))
        .await
        .unwrap()
        .from(from.clone());
    let step = |t: &TestApp| t.clock.advance(1);

    let other_id = authenticate(&t.app, Some(&other.access_token))
        .await
        .unwrap()
        .session_id;
    step(&t);
    revoke_one(&t.app, &me, &other_id).await.unwrap();
    step(&t);
    let secret = enrol(&t.app, &me, StepUpRequest::default())
        .await
        .unwrap()
        .secret;
    confirm(
        &t.app,
        &me,
        CodeRequest {
            totp: auth_tests::totp_code(&secret, t.app.now()),
        },
    )
    .await
    .unwrap();
    step(&t);
    // The account as it is now (its authenticator app on).
    let me = authenticate(&t.app, Some(&pair.access_token))
        .await
        .unwrap()
        .from(from.clone());
    replace_recovery_codes(&t.app, &me, StepUpRequest::default())
        .await
        .unwrap();
    t.clock.advance(30);
    disable(
        &t.app,
        &me,
        DisableRequest {
            password: PASSWORD.into(),
            totp: auth_tests::totp_code(&secret, t.app.now()),
        },
    )
    .await
    .unwrap();
    step(&t);
    let changed = change(
        &t.app,
        &me,
        ChangeRequest {
            current_password: PASSWORD.into(),
            password: "a brand new passphrase".into(),
            repeat_password: "a brand new passphrase".into(),
            origin: from.clone(),
        },
    )
    .await
    .unwrap();
    step(&t);
    let now_me = authenticate(&t.app, Some(&changed.access_token))
        .await
        .unwrap()
        .from(from.clone());
    revoke_all(&t.app, &now_me).await.unwrap();

    let trail = activity(&t, &email).await;
    let events: Vec<&str> = trail.iter().map(|a| a["event"].as_str().unwrap()).collect();
    assert_eq!(events[0], audit::SESSIONS_ENDED, "{events:?}");
    // The change's new session and the change itself: one transaction, one moment.
    let mut changed = events[1..3].to_vec();
    changed.sort_unstable();
    assert_eq!(changed, [audit::PASSWORD_CHANGED, audit::SIGNED_IN]);
    assert_eq!(
        events[3..8],
        [
            audit::TOTP_DISABLED,
            audit::RECOVERY_CODES_REPLACED,
            audit::TOTP_ENABLED,
            audit::SESSION_REVOKED,
            audit::SIGNED_IN,
        ]
    );
    for record in &trail[..7] {
        assert_eq!(record["ip"], "198.51.100.7", "{record}");
        assert_eq!(record["user_agent"], "activity-test", "{record}");
    }
}
