//! Each function's IAM policy in `template.yaml` covers every AWS action its code calls, and
//! HTTP functions cannot publish to the user-events topic. The actions are not listed by
//! hand: every function binary runs its flows as in Lambda (successes and the failure paths
//! that roll back) behind a recording proxy, and what it called is held against what the
//! template grants it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use auth_tests::authenticator::SoftAuthenticator;
use auth_tests::aws_recorder::Recorder;
use auth_tests::events::{fresh_forgot_record, inserts_with_prefix};
use auth_tests::moto::{Outbox, six_digits};
use auth_tests::oidc::sign_in_at_provider;
use auth_tests::{required_env, totp_code, unique_email, unique_phone};
use auth_tools::runtime_api::api_gateway_event;
use serde_json::{Value, json};
use serde_yaml_ng::Value as Yaml;

use crate::lambda::{body_of, post, run_with};

const PASSWORD: &str = "correct horse battery staple";

fn workspace_file(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// One statement of a policy: its effect, actions and resource (`*`, `Ref:Name`, or the
/// tag and text of another intrinsic).
#[derive(Debug)]
struct Grant {
    allow: bool,
    actions: Vec<String>,
    resource: String,
}

fn rendered(resource: &Yaml) -> String {
    match resource {
        Yaml::String(s) => s.clone(),
        Yaml::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let value = serde_yaml_ng::to_string(&tagged.value).unwrap_or_default();
            format!("{}:{}", tag.trim_start_matches('!'), value.trim())
        }
        other => serde_yaml_ng::to_string(other).unwrap_or_default(),
    }
}

fn strings(value: &Yaml) -> Vec<String> {
    match value {
        Yaml::String(s) => vec![s.clone()],
        Yaml::Sequence(items) => items.iter().flat_map(strings).collect(),
        _ => Vec::new(),
    }
}

/// Every statement that applies to each binary: its inline policies and the managed
/// policies it references.
fn grants_by_binary() -> BTreeMap<String, Vec<Grant>> {
    let template: Yaml = serde_yaml_ng::from_str(&workspace_file("template.yaml")).unwrap();
    let binaries = auth_tools::mapping::makefile_binaries(&workspace_file("Makefile")).unwrap();
    let resources = &template["Resources"];
    let mut grants = BTreeMap::new();
    for (id, binary) in binaries {
        let function = &resources[id.as_str()];
        let mut statements = Vec::new();
        for policy in function["Properties"]["Policies"]
            .as_sequence()
            .into_iter()
            .flatten()
        {
            // A policy attached on a condition (`!If [Cond, !Ref P, !Ref AWS::NoValue]`)
            // counts as attached: the deployments that configure it have it.
            let policy = match policy {
                Yaml::Tagged(tagged) if tagged.tag.to_string().trim_start_matches('!') == "If" => {
                    &tagged.value[1]
                }
                other => other,
            };
            let document = match policy {
                Yaml::Tagged(tagged) if tagged.tag.to_string().trim_start_matches('!') == "Ref" => {
                    let name = tagged.value.as_str().expect("a policy name");
                    resources[name]["Properties"]["PolicyDocument"].clone()
                }
                inline => inline.clone(),
            };
            for statement in document["Statement"].as_sequence().into_iter().flatten() {
                // A statement naming several resources grants each of them.
                let resources = match &statement["Resource"] {
                    Yaml::Sequence(list) => list.iter().map(rendered).collect(),
                    one => vec![rendered(one)],
                };
                for resource in resources {
                    statements.push(Grant {
                        allow: statement["Effect"].as_str() == Some("Allow"),
                        actions: strings(&statement["Action"]),
                        resource,
                    });
                }
            }
        }
        grants.insert(binary, statements);
    }
    grants
}

const TOPIC: &str = "Ref:UserEventsTopic";
/// Every SNS ARN (topics and platform endpoints), denied to the functions that send SMS.
const EVERY_SNS_ARN: &str = "Sub:arn:${AWS::Partition}:sns:*:*:*";

/// Whether `grants` allow a recorded action.
fn allows(grants: &[Grant], action: &str) -> bool {
    let granted = |action: &str, resource: Option<&str>, allow: bool| {
        grants.iter().any(|g| {
            g.allow == allow
                && g.actions.iter().any(|a| a == action)
                && resource.is_none_or(|r| g.resource == r)
        })
    };
    match action {
        "sns:Publish@sms" => granted("sns:Publish", Some("*"), true),
        "sns:Publish@replay-topic" => {
            granted("sns:Publish", Some("Ref:UserEventsReplayTopic"), true)
                && !granted("sns:Publish", Some(TOPIC), true)
        }
        "sns:Publish@topic" => {
            granted("sns:Publish", Some(TOPIC), true)
                && !granted("sns:Publish", Some(TOPIC), false)
                && !granted("sns:Publish", Some(EVERY_SNS_ARN), false)
        }
        // Publishing to a phone number and to nothing else: every SNS ARN denied.
        "sns:Publish@phone-only" => {
            granted("sns:Publish", Some("*"), true)
                && granted("sns:Publish", Some(EVERY_SNS_ARN), false)
        }
        "secretsmanager:GetSecretValue@hmac" => granted(
            "secretsmanager:GetSecretValue",
            Some("Ref:HmacSecretArn"),
            true,
        ),
        "secretsmanager:GetSecretValue@signing" => granted(
            "secretsmanager:GetSecretValue",
            Some("Ref:SigningSecretArn"),
            true,
        ),
        "secretsmanager:GetSecretValue@oauth" => granted(
            "secretsmanager:GetSecretValue",
            Some("Ref:OAuthSecretArn"),
            true,
        ),
        "dynamodb:Query@table" => granted("dynamodb:Query", Some("GetAtt:AuthTable.Arn"), true),
        action if action.starts_with("cognito-idp:") && action.ends_with("@pool") => granted(
            action.trim_end_matches("@pool"),
            Some(
                "Sub:arn:${AWS::Partition}:cognito-idp:${AWS::Region}:${AWS::AccountId}:userpool/${CognitoUserPoolId}",
            ),
            true,
        ),
        action if action.starts_with("dynamodb:Query@index/") => {
            let index = action.trim_start_matches("dynamodb:Query@index/");
            granted(
                "dynamodb:Query",
                Some(&format!("Sub:${{AuthTable.Arn}}/index/{index}")),
                true,
            )
        }
        action if action.starts_with("unknown:") => false,
        action => granted(action, None, true),
    }
}

/// The recorder's endpoints for a function, and the rest of the stack's environment.
fn endpoints(recorder: &Recorder) -> Vec<(&'static str, String)> {
    [
        "AWS_ENDPOINT_URL_DYNAMODB",
        "AWS_ENDPOINT_URL_SESV2",
        "AWS_ENDPOINT_URL_SNS",
        "AWS_ENDPOINT_URL_SECRETS_MANAGER",
        "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER",
    ]
    .into_iter()
    .map(|name| (name, recorder.url.clone()))
    .collect()
}

/// Runs `function` on `events` behind a fresh recorder; returns its answers and actions.
async fn recorded(
    function: &str,
    events: Vec<String>,
    fail_email: bool,
) -> (Vec<Value>, BTreeSet<String>) {
    recorded_with(function, events, fail_email, &[]).await
}

/// [`recorded`] with more of the function's environment (`extra`).
async fn recorded_with(
    function: &str,
    events: Vec<String>,
    fail_email: bool,
    extra: &[(&'static str, String)],
) -> (Vec<Value>, BTreeSet<String>) {
    let recorder = Recorder::start(
        &required_env("AWS_ENDPOINT_URL_DYNAMODB"),
        &required_env("MOTO_URL"),
    )
    .await;
    recorder.fail_email(fail_email);
    let mut env = endpoints(&recorder);
    env.extend(extra.iter().cloned());
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let run = run_with(function, events, &env).await;
    // A 5xx is a failed step of the test: its logs say why.
    if run
        .answers
        .iter()
        .any(|a| a["statusCode"].as_u64() >= Some(500))
    {
        eprintln!("{function}'s output:\n{}", run.output);
    }
    (run.answers, recorder.actions())
}

fn registration(identifier: (&str, &str)) -> String {
    post(
        "/registration",
        json!({ identifier.0: identifier.1, "password": PASSWORD, "repeat_password": PASSWORD }),
    )
}

/// The same event with `Authorization: Bearer <token>`.
fn with_bearer(event: String, token: &str) -> String {
    let mut event: Value = serde_json::from_str(&event).unwrap();
    event["headers"]["authorization"] = format!("Bearer {token}").into();
    event.to_string()
}

/// The same event with `query` as its query string.
fn with_query(event: String, query: &str) -> String {
    let mut event: Value = serde_json::from_str(&event).unwrap();
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap();
    let map: serde_json::Map<String, Value> = pairs
        .into_iter()
        .map(|(k, v)| (k, Value::from(v)))
        .collect();
    event["rawQueryString"] = query.into();
    event["queryStringParameters"] = Value::Object(map);
    event.to_string()
}

/// The provider's redirect to the callback (`url`), as the callback function's event.
fn callback_event(url: &str) -> String {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
    with_query(
        api_gateway_event(
            "GET",
            "/oauth/local/callback",
            "/oauth/{provider}/callback",
            None,
            json!({ "provider": "local" }),
        ),
        query,
    )
}

/// The cookie an answer sets, as the browser sends it back (`name=value`).
fn cookie_set_by(answer: &Value) -> String {
    let set_cookie = answer["cookies"][0]
        .as_str()
        .or_else(|| answer["headers"]["set-cookie"].as_str())
        .unwrap_or_else(|| panic!("a cookie: {answer}"));
    set_cookie.split(';').next().unwrap().to_owned()
}

/// `event` from a browser that holds `cookie`.
fn with_cookie(event: String, cookie: &str) -> String {
    let mut event: Value = serde_json::from_str(&event).unwrap();
    event["cookies"] = json!([cookie]);
    event.to_string()
}

/// Where a 302 answer sends the browser.
fn redirected_to(answer: &Value) -> String {
    assert_eq!(answer["statusCode"], 302, "{answer}");
    answer["headers"]["location"]
        .as_str()
        .unwrap_or_else(|| panic!("a location: {answer}"))
        .to_owned()
}

fn confirm_link(code: &str) -> String {
    api_gateway_event(
        "PATCH",
        &format!("/registration/{code}"),
        "/registration/{code}",
        None,
        json!({ "code": code }),
    )
}

#[tokio::test]
async fn every_function_s_policy_covers_the_aws_actions_its_code_calls() {
    let mut called: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();

    // Registration: by email, by phone, and one whose email cannot be sent (the rollback);
    // two more unverified accounts for the resend and sign-in OTP flows below.
    let (verified, phone) = (unique_email(), unique_phone());
    let (resent, undeliverable, unverified) = (unique_email(), unique_email(), unique_email());
    let squatted = unique_email();
    let (answers, actions) = recorded(
        "register",
        vec![
            registration(("email", &verified)),
            registration(("phone", &phone)),
            registration(("email", &resent)),
            registration(("email", &undeliverable)),
            registration(("email", &unverified)),
            registration(("email", &squatted)),
        ],
        false,
    )
    .await;
    let sent_at = Instant::now();
    answers.iter().for_each(|a| drop(body_of(a, 200)));
    called.entry("register").or_default().extend(actions);
    let (answers, actions) = recorded(
        "register",
        vec![registration(("email", &unique_email()))],
        true,
    )
    .await;
    assert_eq!(body_of(&answers[0], 400)["code"], "delivery_failed");
    called.entry("register").or_default().extend(actions);

    // Confirmation by link and by SMS code.
    let outbox = Outbox::fetch().await;
    let link = outbox.emails_to(&verified)[0].confirm_code().unwrap();
    let sms = six_digits(&outbox.sms_to(&phone)[0]).unwrap();
    let sms_confirm = api_gateway_event(
        "PATCH",
        &format!("/registration/{sms}"),
        "/registration/{code}",
        Some(json!({ "phone": phone }).to_string()),
        json!({ "code": sms }),
    );
    let (answers, actions) =
        recorded("confirm", vec![confirm_link(&link), sms_confirm], false).await;
    let session = body_of(&answers[0], 200);
    let phone_session = body_of(&answers[1], 200);
    called.entry("confirm").or_default().extend(actions);

    // "I did not sign up", with the link mailed to an address someone else registered.
    let declined = outbox.emails_to(&squatted)[0].confirm_code().unwrap();
    let (answers, actions) = recorded(
        "decline",
        vec![api_gateway_event(
            "DELETE",
            &format!("/registration/{declined}"),
            "/registration/{code}",
            None,
            json!({ "code": declined }),
        )],
        false,
    )
    .await;
    assert_eq!(answers[0]["statusCode"], 204, "{answers:?}");
    called.entry("decline").or_default().extend(actions);

    // Refresh and sign-out.
    let (answers, actions) = recorded(
        "token",
        vec![post(
            "/token",
            json!({ "refresh_token": session["refresh_token"] }),
        )],
        false,
    )
    .await;
    let refreshed = body_of(&answers[0], 200);
    called.entry("token").or_default().extend(actions);
    let (answers, actions) = recorded(
        "logout",
        vec![post(
            "/logout",
            json!({ "refresh_token": refreshed["refresh_token"] }),
        )],
        false,
    )
    .await;
    assert_eq!(answers[0]["statusCode"], 204);
    called.entry("logout").or_default().extend(actions);

    // Sending again waits out the per-identifier minute.
    tokio::time::sleep(Duration::from_secs(62).saturating_sub(sent_at.elapsed())).await;

    // Resend: delivered, and not delivered (the previous code is restored).
    let resend = |email: &str| post("/registration/resend_code", json!({ "email": email }));
    let (answers, actions) = recorded("resend-code", vec![resend(&resent)], false).await;
    body_of(&answers[0], 200);
    called.entry("resend-code").or_default().extend(actions);
    let (answers, actions) = recorded("resend-code", vec![resend(&undeliverable)], true).await;
    assert_eq!(body_of(&answers[0], 400)["code"], "delivery_failed");
    called.entry("resend-code").or_default().extend(actions);

    // Sign-in: a wrong password, a verified account, and an unverified one (an OTP by email).
    let login = |email: &str, password: &str| {
        post("/login", json!({ "email": email, "password": password }))
    };
    let (answers, actions) = recorded(
        "login",
        vec![
            login(&verified, "not the password"),
            login(&verified, PASSWORD),
            login(&unverified, PASSWORD),
        ],
        false,
    )
    .await;
    body_of(&answers[0], 401);
    body_of(&answers[1], 200);
    let challenge = body_of(&answers[2], 403);
    called.entry("login").or_default().extend(actions);
    let otp = six_digits(
        &Outbox::fetch()
            .await
            .emails_to(&unverified)
            .last()
            .unwrap()
            .html,
    )
    .unwrap();
    let (answers, actions) = recorded(
        "login-otp",
        vec![post(
            "/login/otp",
            json!({ "challenge_id": challenge["challenge_id"], "otp": otp }),
        )],
        false,
    )
    .await;
    body_of(&answers[0], 200);
    called.entry("login-otp").or_default().extend(actions);

    // Password recovery: a reset link to an account and nothing to an unknown address, the
    // reset with the link, then every bearer route with the session the reset started.
    let forgot = |email: &str| post("/password/forgot", json!({ "email": email }));
    let (answers, actions) = recorded(
        "password-forgot",
        vec![forgot(&verified), forgot(&unique_email())],
        false,
    )
    .await;
    body_of(&answers[0], 202);
    body_of(&answers[1], 202);
    called.entry("password-forgot").or_default().extend(actions);
    // The local pipeline sends the first code from the stream; the sender runs here on a
    // copy of the request, and its code is the newest.
    Outbox::next_reset_link(&verified, 0).await;
    let (answers, actions) = recorded(
        "reset-sender",
        vec![
            json!({ "Records": [fresh_forgot_record(&verified.to_lowercase()).await] }).to_string(),
        ],
        false,
    )
    .await;
    assert_eq!(answers[0]["batchItemFailures"], json!([]), "{answers:?}");
    called.entry("reset-sender").or_default().extend(actions);
    let link = Outbox::next_reset_link(&verified, 1).await;
    let (new, newer) = ("a different long passphrase", "yet another long passphrase");
    let (answers, actions) = recorded(
        "password-reset",
        vec![post(
            "/password/reset",
            json!({ "code": link, "password": new, "repeat_password": new }),
        )],
        false,
    )
    .await;
    let reset = body_of(&answers[0], 200);
    called.entry("password-reset").or_default().extend(actions);
    let bearer = reset["access_token"].as_str().unwrap();
    let (answers, actions) = recorded(
        "sessions-list",
        vec![with_bearer(
            api_gateway_event("GET", "/sessions", "/sessions", None, json!({})),
            bearer,
        )],
        false,
    )
    .await;
    body_of(&answers[0], 200);
    called.entry("sessions-list").or_default().extend(actions);
    let unknown = uuid::Uuid::new_v4().to_string();
    let (answers, actions) = recorded(
        "session-revoke",
        vec![with_bearer(
            api_gateway_event(
                "DELETE",
                &format!("/sessions/{unknown}"),
                "/sessions/{id}",
                None,
                json!({ "id": unknown }),
            ),
            bearer,
        )],
        false,
    )
    .await;
    body_of(&answers[0], 404);
    called.entry("session-revoke").or_default().extend(actions);
    let (answers, actions) = recorded(
        "password-change",
        vec![with_bearer(
            post(
                "/password/change",
                json!({ "current_password": new, "password": newer, "repeat_password": newer }),
            ),
            bearer,
        )],
        false,
    )
    .await;
    let changed = body_of(&answers[0], 200);
    called.entry("password-change").or_default().extend(actions);
    let (answers, actions) = recorded(
        "sessions-revoke-all",
        vec![with_bearer(
            api_gateway_event("DELETE", "/sessions", "/sessions", None, json!({})),
            changed["access_token"].as_str().unwrap(),
        )],
        false,
    )
    .await;
    assert_eq!(answers[0]["statusCode"], 204, "{answers:?}");
    called
        .entry("sessions-revoke-all")
        .or_default()
        .extend(actions);

    // The account's own routes, with the phone account's session: its profile, a move to a
    // new email address confirmed by the link, and its deletion.
    let phone_bearer = phone_session["access_token"].as_str().unwrap();
    let (answers, actions) = recorded(
        "me",
        vec![with_bearer(
            api_gateway_event("GET", "/me", "/me", None, json!({})),
            phone_bearer,
        )],
        false,
    )
    .await;
    body_of(&answers[0], 200);
    called.entry("me").or_default().extend(actions);
    // An authenticator app on the phone account: turned on (the session is minutes old, so
    // no password), its recovery codes replaced, a sign-in finished with one of them (the
    // notice goes by SMS), and turned off with the next step's code.
    let bare = |method: &str, path: &str| api_gateway_event(method, path, path, None, json!({}));
    let (answers, actions) = recorded(
        "totp-enroll",
        vec![with_bearer(bare("POST", "/me/totp"), phone_bearer)],
        false,
    )
    .await;
    let secret = body_of(&answers[0], 200)["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    called.entry("totp-enroll").or_default().extend(actions);
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
    };
    let (answers, actions) = recorded(
        "totp-confirm",
        vec![with_bearer(
            post(
                "/me/totp/confirm",
                json!({ "totp": totp_code(&secret, now()) }),
            ),
            phone_bearer,
        )],
        false,
    )
    .await;
    body_of(&answers[0], 200);
    called.entry("totp-confirm").or_default().extend(actions);
    let (answers, actions) = recorded(
        "totp-recovery-codes",
        vec![with_bearer(
            bare("POST", "/me/totp/recovery-codes"),
            phone_bearer,
        )],
        false,
    )
    .await;
    let recovery = body_of(&answers[0], 200)["recovery_codes"][0]
        .as_str()
        .unwrap()
        .to_owned();
    called
        .entry("totp-recovery-codes")
        .or_default()
        .extend(actions);
    let (answers, actions) = recorded(
        "login",
        vec![post(
            "/login",
            json!({ "phone": phone, "password": PASSWORD }),
        )],
        false,
    )
    .await;
    let challenge = body_of(&answers[0], 403)["challenge_id"]
        .as_str()
        .unwrap()
        .to_owned();
    called.entry("login").or_default().extend(actions);
    let (answers, actions) = recorded(
        "login-mfa",
        vec![post(
            "/login/mfa",
            json!({ "challenge_id": challenge, "recovery_code": recovery }),
        )],
        false,
    )
    .await;
    body_of(&answers[0], 200);
    called.entry("login-mfa").or_default().extend(actions);
    // The next step's code: within the one step of skew, and later than the one used.
    let (answers, actions) = recorded(
        "totp-disable",
        vec![with_bearer(
            api_gateway_event(
                "DELETE",
                "/me/totp",
                "/me/totp",
                Some(
                    json!({ "password": PASSWORD, "totp": totp_code(&secret, now() + 30) })
                        .to_string(),
                ),
                json!({}),
            ),
            phone_bearer,
        )],
        false,
    )
    .await;
    assert_eq!(answers[0]["statusCode"], 204, "{answers:?}");
    called.entry("totp-disable").or_default().extend(actions);

    // A passkey on the phone account (a software authenticator on the web app's origin):
    // registered, listed, renamed, signing in alone and as the second factor after the
    // password, then removed.
    let mut authenticator = SoftAuthenticator::new(&required_env("WEB_URL"));
    let (answers, actions) = recorded(
        "passkey-options",
        vec![with_bearer(
            bare("POST", "/me/passkeys/options"),
            phone_bearer,
        )],
        false,
    )
    .await;
    let ceremony = body_of(&answers[0], 200);
    called.entry("passkey-options").or_default().extend(actions);
    let credential = authenticator.register(&ceremony["options"]).unwrap();
    let (answers, actions) = recorded(
        "passkey-add",
        vec![with_bearer(
            post(
                "/me/passkeys",
                json!({ "challenge_id": ceremony["challenge_id"], "credential": credential }),
            ),
            phone_bearer,
        )],
        false,
    )
    .await;
    let passkey_id = body_of(&answers[0], 201)["id"].as_str().unwrap().to_owned();
    called.entry("passkey-add").or_default().extend(actions);
    let (answers, actions) = recorded(
        "passkeys-list",
        vec![with_bearer(bare("GET", "/me/passkeys"), phone_bearer)],
        false,
    )
    .await;
    body_of(&answers[0], 200);
    called.entry("passkeys-list").or_default().extend(actions);
    let one_passkey = |method: &str, body: Option<Value>| {
        with_bearer(
            api_gateway_event(
                method,
                &format!("/me/passkeys/{passkey_id}"),
                "/me/passkeys/{id}",
                body.map(|b| b.to_string()),
                json!({ "id": passkey_id }),
            ),
            phone_bearer,
        )
    };
    let (answers, actions) = recorded(
        "passkey-rename",
        vec![one_passkey("PATCH", Some(json!({ "name": "Phone" })))],
        false,
    )
    .await;
    body_of(&answers[0], 200);
    called.entry("passkey-rename").or_default().extend(actions);
    let (answers, actions) = recorded(
        "login-passkey-options",
        vec![bare("POST", "/login/passkey/options")],
        false,
    )
    .await;
    let ceremony = body_of(&answers[0], 200);
    called
        .entry("login-passkey-options")
        .or_default()
        .extend(actions);
    let assertion = authenticator.sign_in(&ceremony["options"]).unwrap();
    let (answers, actions) = recorded(
        "login-passkey",
        vec![post(
            "/login/passkey",
            json!({ "challenge_id": ceremony["challenge_id"], "credential": assertion }),
        )],
        false,
    )
    .await;
    body_of(&answers[0], 200);
    called.entry("login-passkey").or_default().extend(actions);
    let (answers, actions) = recorded(
        "login",
        vec![post(
            "/login",
            json!({ "phone": phone, "password": PASSWORD }),
        )],
        false,
    )
    .await;
    let step = body_of(&answers[0], 403);
    called.entry("login").or_default().extend(actions);
    let assertion = authenticator.sign_in(&step["passkey_options"]).unwrap();
    let (answers, actions) = recorded(
        "login-mfa",
        vec![post(
            "/login/mfa",
            json!({ "challenge_id": step["challenge_id"], "credential": assertion }),
        )],
        false,
    )
    .await;
    body_of(&answers[0], 200);
    called.entry("login-mfa").or_default().extend(actions);
    let (answers, actions) =
        recorded("passkey-delete", vec![one_passkey("DELETE", None)], false).await;
    assert_eq!(answers[0]["statusCode"], 204, "{answers:?}");
    called.entry("passkey-delete").or_default().extend(actions);

    // Another provider (the local OpenID provider): the phone account links it and unlinks
    // it; a new identity signs in with it, through the start route, the callback and the
    // one-time code.
    let page = format!("{}/signin", required_env("WEB_URL"));
    let callback_prefix = format!("{}/oauth/local/callback", required_env("API_URL"));
    let (answers, actions) = recorded(
        "provider-link",
        vec![with_bearer(
            post(
                "/me/providers/local",
                json!({ "redirect_uri": page, "password": PASSWORD }),
            ),
            phone_bearer,
        )],
        false,
    )
    .await;
    let authorization = body_of(&answers[0], 200)["authorization_url"]
        .as_str()
        .unwrap()
        .to_owned();
    called.entry("provider-link").or_default().extend(actions);
    let login_name = format!("policy-{}", uuid::Uuid::new_v4().simple());
    let back = sign_in_at_provider(&authorization, &login_name, &callback_prefix).await;
    let (answers, actions) = recorded("oauth-callback", vec![callback_event(&back)], false).await;
    assert!(
        redirected_to(&answers[0]).contains("#linked=local"),
        "{answers:?}"
    );
    called.entry("oauth-callback").or_default().extend(actions);
    let (answers, actions) = recorded(
        "provider-unlink",
        vec![with_bearer(
            api_gateway_event(
                "DELETE",
                "/me/providers/local",
                "/me/providers/{provider}",
                Some(json!({ "password": PASSWORD }).to_string()),
                json!({ "provider": "local" }),
            ),
            phone_bearer,
        )],
        false,
    )
    .await;
    assert_eq!(answers[0]["statusCode"], 204, "{answers:?}");
    called.entry("provider-unlink").or_default().extend(actions);
    let start = with_query(
        api_gateway_event(
            "GET",
            "/oauth/local/start",
            "/oauth/{provider}/start",
            None,
            json!({ "provider": "local" }),
        ),
        &serde_urlencoded::to_string([("redirect_uri", page.as_str())]).unwrap(),
    );
    let (answers, actions) = recorded("oauth-start", vec![start], false).await;
    let authorization = redirected_to(&answers[0]);
    let browser = cookie_set_by(&answers[0]);
    called.entry("oauth-start").or_default().extend(actions);
    let back = sign_in_at_provider(&authorization, &login_name, &callback_prefix).await;
    let (answers, actions) = recorded(
        "oauth-callback",
        vec![with_cookie(callback_event(&back), &browser)],
        false,
    )
    .await;
    let location = redirected_to(&answers[0]);
    let code = location
        .split_once("#code=")
        .expect("a sign-in code")
        .1
        .to_owned();
    called.entry("oauth-callback").or_default().extend(actions);
    let (answers, actions) = recorded(
        "login-provider",
        vec![post("/login/provider", json!({ "code": code }))],
        false,
    )
    .await;
    body_of(&answers[0], 200);
    called.entry("login-provider").or_default().extend(actions);

    let moved_to = unique_email();
    let (answers, actions) = recorded(
        "me-identifier",
        vec![with_bearer(
            post(
                "/me/identifier",
                json!({ "email": moved_to, "password": PASSWORD }),
            ),
            phone_bearer,
        )],
        false,
    )
    .await;
    body_of(&answers[0], 202);
    called.entry("me-identifier").or_default().extend(actions);
    let change = Outbox::fetch().await.emails_to(&moved_to)[0]
        .change_code()
        .unwrap();
    let (answers, actions) = recorded(
        "me-identifier-confirm",
        vec![with_bearer(
            api_gateway_event(
                "PATCH",
                &format!("/me/identifier/{change}"),
                "/me/identifier/{code}",
                None,
                json!({ "code": change }),
            ),
            phone_bearer,
        )],
        false,
    )
    .await;
    body_of(&answers[0], 200);
    called
        .entry("me-identifier-confirm")
        .or_default()
        .extend(actions);
    let (answers, actions) = recorded(
        "me-delete",
        vec![with_bearer(
            api_gateway_event(
                "DELETE",
                "/me",
                "/me",
                Some(json!({ "password": PASSWORD }).to_string()),
                json!({}),
            ),
            phone_bearer,
        )],
        false,
    )
    .await;
    assert_eq!(answers[0]["statusCode"], 204, "{answers:?}");
    called.entry("me-delete").or_default().extend(actions);

    // The event publisher with a batch from the stream, and the sweeper on its schedule.
    let sdk = auth_shared::aws::load_sdk_config().await;
    let stream = auth_tools::stream::TableStream::of_table(&sdk, &required_env("TABLE_NAME"))
        .await
        .unwrap();
    let outbox_inserts: Vec<Value> = stream
        .all_records()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| inserts_with_prefix(r, "OUTBOX#"))
        .rev()
        .take(3)
        .collect();
    assert!(!outbox_inserts.is_empty());
    let (answers, actions) = recorded(
        "user-events",
        vec![json!({ "Records": outbox_inserts }).to_string()],
        false,
    )
    .await;
    assert!(
        answers[0]["batchItemFailures"]
            .as_array()
            .is_some_and(Vec::is_empty),
        "{answers:?}"
    );
    called.entry("user-events").or_default().extend(actions);
    let (_, actions) = recorded(
        "outbox-sweeper",
        vec![
            json!({ "source": "aws.events", "detail-type": "Scheduled Event", "detail": {} })
                .to_string(),
        ],
        false,
    )
    .await;
    called.entry("outbox-sweeper").or_default().extend(actions);

    // An acknowledgement from a subscribing service, as the SQS event source delivers it,
    // for the account confirmed above: recorded, and twice (the second changes nothing).
    // The service is one no local stand-in answers for, so the first is this one.
    let ack = json!({
        "service": "policy_probe",
        "user_id": session["user_id"],
        "event_id": uuid::Uuid::new_v4().to_string(),
        "status": "created",
    });
    let sqs_event = json!({ "Records": [{
        "messageId": "m-1", "receiptHandle": "r-1", "body": ack.to_string(),
        "attributes": {}, "messageAttributes": {}, "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:provisioning-acks",
        "awsRegion": "us-east-1",
    }]});
    let (answers, actions) = recorded_with(
        "provisioning-ack",
        vec![sqs_event.to_string(), sqs_event.to_string()],
        false,
        &[("SUBSCRIBER_SERVICES", "social,blog,policy_probe".to_owned())],
    )
    .await;
    for answer in &answers {
        assert!(
            answer["batchItemFailures"]
                .as_array()
                .is_some_and(Vec::is_empty),
            "{answers:?}"
        );
    }
    assert!(actions.contains("dynamodb:UpdateItem"), "{actions:?}");
    called
        .entry("provisioning-ack")
        .or_default()
        .extend(actions);

    let (answers, actions) = recorded(
        "well-known",
        vec![api_gateway_event(
            "GET",
            "/.well-known/jwks.json",
            "/.well-known/jwks.json",
            None,
            json!({}),
        )],
        false,
    )
    .await;
    body_of(&answers[0], 200);
    called.entry("well-known").or_default().extend(actions);

    // The account's activity, and every operator command (the admin function, invoked
    // as IAM would, with an operator's principal), on the account the reset and change
    // above left with the password `newer`.
    let (answers, actions) = recorded("login", vec![login(&verified, newer)], false).await;
    let signed_in = body_of(&answers[0], 200);
    called.entry("login").or_default().extend(actions);
    let (answers, actions) = recorded(
        "me-activity",
        vec![with_bearer(
            api_gateway_event("GET", "/me/activity", "/me/activity", None, json!({})),
            signed_in["access_token"].as_str().unwrap(),
        )],
        false,
    )
    .await;
    assert!(
        !body_of(&answers[0], 200)["activity"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    called.entry("me-activity").or_default().extend(actions);
    let operator = |command: Value| {
        json!({ "actor": "arn:aws:iam::123456789012:user/policy-test", "command": command })
            .to_string()
    };
    let commands = [
        json!({ "name": "show", "user": verified }),
        json!({ "name": "list", "limit": 3 }),
        json!({ "name": "list", "unverified": true, "limit": 3 }),
        json!({ "name": "sessions", "user": verified }),
        json!({ "name": "activity", "user": verified }),
        json!({ "name": "export", "user": verified }),
        json!({ "name": "replay", "service": "blog", "user": verified }),
        json!({ "name": "replay", "service": "social", "since": "1h" }),
        json!({ "name": "unlock", "user": verified }),
        json!({ "name": "reset-password", "user": verified }),
        json!({ "name": "revoke-sessions", "user": verified }),
        json!({ "name": "disable", "user": verified, "reason": "policy test" }),
        json!({ "name": "enable", "user": verified }),
        json!({ "name": "delete", "user": verified }),
    ];
    let (answers, actions) =
        recorded("admin", commands.into_iter().map(operator).collect(), false).await;
    for answer in &answers {
        assert_eq!(answer["ok"], true, "{answers:?}");
    }
    assert!(
        answers[6]["result"]["replayed"].as_u64() >= Some(2),
        "the user's user.created and user.verified: {}",
        answers[6]
    );
    assert!(actions.contains("sns:Publish@replay-topic"), "{actions:?}");
    called.entry("admin").or_default().extend(actions);

    // Migration from a Cognito user pool (moto's): a pool user's first sign-in, and another
    // one's forgot-password request served by the reset sender.
    let (cognito, pool_id, client_id) = auth_tests::cognito::pool().await;
    let (migrating, resetting) = (unique_email(), unique_email());
    for email in [&migrating, &resetting] {
        auth_tests::cognito::pool_user(&cognito, &pool_id, email, true).await;
    }
    let pool_env = [
        ("COGNITO_USER_POOL_ID", pool_id.clone()),
        ("COGNITO_CLIENT_ID", client_id.clone()),
    ];
    let (answers, actions) = recorded_with(
        "login",
        vec![login(&migrating, auth_tests::cognito::POOL_PASSWORD)],
        false,
        &pool_env,
    )
    .await;
    body_of(&answers[0], 200);
    assert!(
        actions.contains("cognito-idp:AdminInitiateAuth@pool"),
        "{actions:?}"
    );
    called.entry("login").or_default().extend(actions);
    let (answers, actions) = recorded("password-forgot", vec![forgot(&resetting)], false).await;
    body_of(&answers[0], 202);
    called.entry("password-forgot").or_default().extend(actions);
    let (_, actions) = recorded_with(
        "reset-sender",
        vec![
            json!({ "Records": [fresh_forgot_record(&resetting.to_lowercase()).await] })
                .to_string(),
        ],
        false,
        &pool_env,
    )
    .await;
    assert!(
        actions.contains("cognito-idp:AdminGetUser@pool"),
        "{actions:?}"
    );
    called.entry("reset-sender").or_default().extend(actions);

    let grants = grants_by_binary();
    for (binary, actions) in &called {
        let granted = grants
            .get(*binary)
            .unwrap_or_else(|| panic!("{binary} is not in the template"));
        let missing: Vec<&String> = actions.iter().filter(|a| !allows(granted, a)).collect();
        assert!(
            missing.is_empty(),
            "{binary} calls {missing:?}, which template.yaml does not grant it (it called {actions:?})"
        );
    }
    // The rollbacks ran: they are what a policy copied by hand missed before.
    assert!(
        called["register"].contains("dynamodb:DeleteItem"),
        "{called:?}"
    );
    assert!(
        called["resend-code"].contains("dynamodb:DeleteItem"),
        "{called:?}"
    );
    assert!(
        called["user-events"].contains("sns:Publish@topic"),
        "{called:?}"
    );
    assert!(called["well-known"].is_empty(), "{called:?}");
    assert!(
        called["sessions-list"].contains("dynamodb:Query@index/user-sessions"),
        "{called:?}"
    );
    assert!(
        called["password-reset"].contains("dynamodb:DeleteItem"),
        "{called:?}"
    );
    for deletes in ["me-identifier-confirm", "me-delete"] {
        assert!(
            called[deletes].contains("dynamodb:DeleteItem"),
            "{called:?}"
        );
    }
    for queries in ["dynamodb:Query@index/user-sessions", "dynamodb:Query@table"] {
        assert!(called["me-delete"].contains(queries), "{called:?}");
    }
    // An account with a passkey: its passkeys are read at every step that lists them or
    // asks for one.
    for binary in ["passkey-options", "passkeys-list", "login"] {
        assert!(
            called[binary].contains("dynamodb:Query@table"),
            "{binary}: {called:?}"
        );
    }
    for transacts in ["totp-confirm", "totp-disable"] {
        assert!(
            called[transacts].contains("dynamodb:TransactWriteItems"),
            "{called:?}"
        );
    }
    assert!(
        called["login-mfa"]
            .iter()
            .any(|a| a.starts_with("sns:Publish")),
        "the recovery-code notice went by SMS: {called:?}"
    );

    // Exactly what each function's capabilities need, no more: its `main` names them, and
    // a function that fetches no secret or builds no SES/SNS client is granted neither.
    for (binary, granted) in &grants {
        // What the function builds: its `run`, which its own binary and the bootstrap call.
        let main = workspace_file(&format!("functions/{binary}/src/lib.rs"));
        let http = main.contains("Startup::from_env");
        if !http {
            continue;
        }
        for (secret, fetches) in [
            ("hmac", main.contains("start.hmac_key()")),
            ("signing", main.contains("start.signing_keys()")),
            ("oauth", main.contains("start.oauth_secrets()")),
        ] {
            let action = format!("secretsmanager:GetSecretValue@{secret}");
            assert_eq!(
                allows(granted, &action),
                fetches,
                "{binary}: the {secret} secret is read by its main: {fetches}, granted by the template: {}",
                !fetches
            );
            assert_eq!(
                called[binary.as_str()].contains(&action),
                fetches,
                "{binary}: its main and the calls it made disagree on the {secret} secret"
            );
        }
        let delivers = main.contains(".with_delivery(");
        for send in ["ses:SendEmail", "sns:Publish@sms"] {
            assert_eq!(
                allows(granted, send),
                delivers,
                "{binary}: {send} granted, but its main builds delivery: {delivers}"
            );
            if !delivers {
                assert!(
                    !called[binary.as_str()].contains(send),
                    "{binary} sent without delivery"
                );
            }
        }
    }

    // No function that may send SMS (Publish on "*") may publish to any topic: every SNS
    // ARN is denied to it, the user-events topic included.
    for (binary, granted) in &grants {
        if allows(granted, "sns:Publish@sms") {
            assert!(
                allows(granted, "sns:Publish@phone-only"),
                "{binary} may publish SMS but is not denied every topic ARN"
            );
            assert!(
                !allows(granted, "sns:Publish@topic"),
                "{binary} can publish to the user-events topic"
            );
        }
    }
}
