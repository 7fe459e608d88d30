//! Nothing secret in the logs at the most verbose level the template allows: the function
//! binaries run exactly as in Lambda (against a stand-in Runtime API, with DynamoDB Local
//! and moto behind them) at `RUST_LOG=trace`, through registration, confirmation, a failed
//! and a good sign-in, a refresh, a sign-out, a password reset (its code sent from the
//! stream) and change, the session
//! list, a change of email address and the account's deletion, and their whole output is searched for the passwords, the codes, every token, the
//! keys and the email address.

use auth_tests::events::fresh_forgot_record;
use auth_tests::moto::Outbox;
use auth_tests::{required_env, unique_email};
use auth_tools::runtime_api::api_gateway_event;
use serde_json::{Value, json};

use crate::lambda::{body_of, post, run};

const PASSWORD: &str = "Tr4ce-level secret passphrase";
const WRONG_PASSWORD: &str = "Wr0ng-but-also secret passphrase";
const NEW_PASSWORD: &str = "N3w-after-reset secret passphrase";
const NEWER_PASSWORD: &str = "N3wer-after-change secret passphrase";

#[tokio::test]
async fn no_log_level_prints_a_password_code_token_key_or_address() {
    let email = unique_email();
    let mut secrets: Vec<(String, String)> = vec![
        ("the password".into(), PASSWORD.into()),
        ("the wrong password".into(), WRONG_PASSWORD.into()),
        ("the password set by the reset".into(), NEW_PASSWORD.into()),
        (
            "the password set by the change".into(),
            NEWER_PASSWORD.into(),
        ),
        ("the email address".into(), email.clone()),
    ];
    let mut outputs = Vec::new();

    let registered_at = std::time::Instant::now();
    let register = run(
        "register",
        vec![post(
            "/registration",
            json!({ "email": email, "password": PASSWORD, "repeat_password": PASSWORD }),
        )],
    )
    .await;
    body_of(&register.answers[0], 200);
    outputs.push(("register", register.output));

    let code = Outbox::fetch().await.emails_to(&email)[0]
        .confirm_code()
        .expect("a confirmation link");
    secrets.push(("the confirmation code".into(), code.clone()));
    let path = format!("/registration/{code}");
    let confirm = run(
        "confirm",
        vec![api_gateway_event(
            "PATCH",
            &path,
            "/registration/{code}",
            None,
            json!({ "code": code }),
        )],
    )
    .await;
    let confirmed = body_of(&confirm.answers[0], 200);
    outputs.push(("confirm", confirm.output));

    let login = run(
        "login",
        vec![
            post(
                "/login",
                json!({ "email": email, "password": WRONG_PASSWORD }),
            ),
            post("/login", json!({ "email": email, "password": PASSWORD })),
        ],
    )
    .await;
    body_of(&login.answers[0], 401);
    let signed_in = body_of(&login.answers[1], 200);
    outputs.push(("login", login.output));

    let token = run(
        "token",
        vec![post(
            "/token",
            json!({ "refresh_token": signed_in["refresh_token"] }),
        )],
    )
    .await;
    let refreshed = body_of(&token.answers[0], 200);
    outputs.push(("token", token.output));

    let logout = run(
        "logout",
        vec![post(
            "/logout",
            json!({ "refresh_token": refreshed["refresh_token"] }),
        )],
    )
    .await;
    assert_eq!(logout.answers[0]["statusCode"], 204);
    outputs.push(("logout", logout.output));

    // Forgot and reset (after the registration's sending minute), then a password change
    // and the session list with the reset's bearer token.
    tokio::time::sleep(std::time::Duration::from_secs(61).saturating_sub(registered_at.elapsed()))
        .await;
    let forgot = run(
        "password-forgot",
        vec![post("/password/forgot", json!({ "email": email }))],
    )
    .await;
    body_of(&forgot.answers[0], 202);
    outputs.push(("password-forgot", forgot.output));
    // The local pipeline serves the request from the stream; then the sender runs here on a
    // copy of it, so its own output is searched too, and its code is the newest.
    let served = Outbox::next_reset_link(&email, 0).await;
    secrets.push(("the first reset code".into(), served));
    let sender = run(
        "reset-sender",
        vec![json!({ "Records": [fresh_forgot_record(&email.to_lowercase()).await] }).to_string()],
    )
    .await;
    assert_eq!(
        sender.answers[0]["batchItemFailures"],
        json!([]),
        "{:?}",
        sender.answers
    );
    outputs.push(("reset-sender", sender.output));
    let reset_code = Outbox::next_reset_link(&email, 1).await;
    secrets.push(("the reset code".into(), reset_code.clone()));
    let reset = run(
        "password-reset",
        vec![post(
            "/password/reset",
            json!({ "code": reset_code, "password": NEW_PASSWORD, "repeat_password": NEW_PASSWORD }),
        )],
    )
    .await;
    let after_reset = body_of(&reset.answers[0], 200);
    outputs.push(("password-reset", reset.output));
    let bearer = |event: String, pair: &Value| {
        let mut event: Value = serde_json::from_str(&event).unwrap();
        event["headers"]["authorization"] =
            format!("Bearer {}", pair["access_token"].as_str().unwrap()).into();
        event.to_string()
    };
    let change = run(
        "password-change",
        vec![bearer(
            post(
                "/password/change",
                json!({ "current_password": NEW_PASSWORD, "password": NEWER_PASSWORD, "repeat_password": NEWER_PASSWORD }),
            ),
            &after_reset,
        )],
    )
    .await;
    let after_change = body_of(&change.answers[0], 200);
    outputs.push(("password-change", change.output));
    let sessions = run(
        "sessions-list",
        vec![bearer(
            api_gateway_event("GET", "/sessions", "/sessions", None, json!({})),
            &after_change,
        )],
    )
    .await;
    body_of(&sessions.answers[0], 200);
    outputs.push(("sessions-list", sessions.output));

    // A move to a new address, confirmed by its link, then the account's deletion.
    let new_email = unique_email();
    secrets.push(("the new email address".into(), new_email.clone()));
    let move_to = run(
        "me-identifier",
        vec![bearer(
            post(
                "/me/identifier",
                json!({ "email": new_email, "password": NEWER_PASSWORD }),
            ),
            &after_change,
        )],
    )
    .await;
    body_of(&move_to.answers[0], 202);
    outputs.push(("me-identifier", move_to.output));
    let change_code = Outbox::fetch().await.emails_to(&new_email)[0]
        .change_code()
        .expect("a link to the new address");
    secrets.push(("the identifier change code".into(), change_code.clone()));
    let moved = run(
        "me-identifier-confirm",
        vec![bearer(
            api_gateway_event(
                "PATCH",
                &format!("/me/identifier/{change_code}"),
                "/me/identifier/{code}",
                None,
                json!({ "code": change_code }),
            ),
            &after_change,
        )],
    )
    .await;
    body_of(&moved.answers[0], 200);
    outputs.push(("me-identifier-confirm", moved.output));
    let deleted = run(
        "me-delete",
        vec![bearer(
            api_gateway_event(
                "DELETE",
                "/me",
                "/me",
                Some(json!({ "password": NEWER_PASSWORD }).to_string()),
                json!({}),
            ),
            &after_change,
        )],
    )
    .await;
    assert_eq!(deleted.answers[0]["statusCode"], 204);
    outputs.push(("me-delete", deleted.output));

    for pair in [
        &confirmed,
        &signed_in,
        &refreshed,
        &after_reset,
        &after_change,
    ] {
        for field in ["access_token", "refresh_token"] {
            let token = pair[field].as_str().expect("a token").to_owned();
            secrets.push((format!("a {field}"), token));
        }
    }
    let secret: Value = serde_json::from_str(
        &std::fs::read_to_string(required_env("AUTH_SECRET_FILE")).expect("the auth secret"),
    )
    .expect("the auth secret is JSON");
    secrets.push((
        "the HMAC key".into(),
        secret["hmac_key"].as_str().expect("an HMAC key").to_owned(),
    ));
    for (kid, pem) in secret["signing_keys"].as_object().expect("signing keys") {
        // Any line of the key's base64 body.
        let line = pem
            .as_str()
            .unwrap_or_default()
            .lines()
            .nth(1)
            .unwrap_or_default();
        secrets.push((format!("signing key {kid}"), line.to_owned()));
    }

    for (function, output) in &outputs {
        // The level took effect: the service's own debug line is there, so the search below
        // read the most verbose output there is.
        assert!(
            output.contains("\"level\":\"DEBUG\"")
                && (output.contains("request served") || output.contains("batch served")),
            "{function} logged nothing at debug level:\n{output}"
        );
        for (what, value) in &secrets {
            assert!(value.len() >= 8, "{what} is too short to search for");
            assert!(
                !output.contains(value.as_str()),
                "{function}'s log holds {what}:\n{output}"
            );
        }
    }
}
