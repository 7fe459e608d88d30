//! Sign-in, OTP verification, tokens and the published keys, over HTTP.

use auth_tests::downstream::{fetch_jwks, verify};
use auth_tests::moto::{Outbox, six_digits};
use auth_tests::{required_env, unique_email, unique_phone};
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{api, assert_error_document, assert_problem, post_json, registration, send};

const PASSWORD: &str = "correct horse battery staple";

fn login_body(identifier: (&str, &str), password: &str) -> Value {
    json!({ identifier.0: identifier.1, "password": password })
}

/// Registers and confirms an email account over HTTP; returns the email.
pub async fn verified_email_account() -> String {
    let email = unique_email();
    let (status, _, body) = post_json("/registration", registration(("email", &email))).await;
    assert_eq!(status, 200, "{body}");
    let code = Outbox::fetch().await.emails_to(&email)[0]
        .confirm_code()
        .unwrap();
    let (status, _, body) = send(Method::PATCH, &format!("/registration/{code}"), None, None).await;
    assert_eq!(status, 200, "{body}");
    email
}

#[tokio::test]
async fn access_tokens_verify_against_the_published_jwks_and_forgeries_do_not() {
    let email = verified_email_account().await;
    let (status, _, pair) = post_json("/login", login_body(("email", &email), PASSWORD)).await;
    assert_eq!(status, 200, "{pair}");
    assert_eq!(pair["token_type"], "Bearer");
    assert_eq!(pair["expires_in"], 900);
    let access = pair["access_token"].as_str().unwrap();

    let issuer = required_env("API_URL");
    let audience = required_env("JWT_AUDIENCE");
    let jwks = fetch_jwks(&issuer).await;
    let claims = verify(access, &jwks, &issuer, &audience).expect("a genuine token verifies");
    assert_eq!(claims.exp - claims.iat, 900);
    assert!(!claims.jti.is_empty() && !claims.sub.is_empty());
    assert!(
        verify(access, &jwks, &issuer, "another-audience").is_err(),
        "aud is checked"
    );
    assert!(
        verify(access, &jwks, "https://evil.example", &audience).is_err(),
        "iss is checked"
    );

    let kid = jsonwebtoken::decode_header(access).unwrap().kid.unwrap();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.clone());

    // Signed by a key the service never published, under the published kid.
    let stranger =
        EncodingKey::from_rsa_pem(auth_tools::keys::rsa_private_pem().unwrap().as_bytes()).unwrap();
    let forged = jsonwebtoken::encode(&header, &claims, &stranger).unwrap();
    assert!(
        verify(&forged, &jwks, &issuer, &audience).is_err(),
        "another key"
    );

    // `alg: none`.
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let unsigned = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT", "kid": kid})),
        b64(&serde_json::to_value(&claims).unwrap())
    );
    assert!(
        verify(&unsigned, &jwks, &issuer, &audience).is_err(),
        "alg none"
    );

    // HS256 keyed with the public key: the classic algorithm confusion.
    let public = serde_json::to_string(jwks.find(&kid).unwrap()).unwrap();
    let mut hs = Header::new(Algorithm::HS256);
    hs.kid = Some(kid.clone());
    let confused =
        jsonwebtoken::encode(&hs, &claims, &EncodingKey::from_secret(public.as_bytes())).unwrap();
    assert!(
        verify(&confused, &jwks, &issuer, &audience).is_err(),
        "HS256 with the public key"
    );
}

#[tokio::test]
async fn unknown_users_and_wrong_passwords_get_the_same_401() {
    let email = verified_email_account().await;
    let (s1, t1, wrong) =
        post_json("/login", login_body(("email", &email), "not my password")).await;
    let (s2, t2, unknown) = post_json(
        "/login",
        login_body(("email", &unique_email()), "not my password"),
    )
    .await;
    assert_problem(s1, &t1, &wrong, 401, "invalid_credentials");
    assert_problem(s2, &t2, &unknown, 401, "invalid_credentials");
    assert_eq!(wrong, unknown, "the bodies do not tell the cases apart");
}

/// Signs in to an unverified account with the right password. Registration just sent a
/// code and at most one code a minute goes to an identifier, so the first answer is 429; the
/// test waits as long as `Retry-After` says, as a client would, and then gets the challenge.
async fn sign_in_until_challenged(identifier: (&str, &str)) -> (String, String) {
    let client = reqwest::Client::new();
    for _ in 0..3 {
        let response = client
            .post(api("/login"))
            .json(&login_body(identifier, PASSWORD))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let body: Value = response.json().await.unwrap();
        match status {
            429 => {
                let wait = retry_after.expect("429 carries Retry-After");
                assert!((1..=60).contains(&wait), "{wait}");
                tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
            }
            403 => {
                assert_eq!(body["code"], "verification_required", "{body}");
                return (
                    body["challenge_id"]
                        .as_str()
                        .expect("a challenge id")
                        .to_owned(),
                    body["channel"].as_str().expect("a channel").to_owned(),
                );
            }
            _ => panic!("unexpected answer {status}: {body}"),
        }
    }
    panic!("no challenge after waiting out the send limit");
}

#[tokio::test]
async fn an_unverified_phone_signs_in_with_an_sms_otp() {
    let phone = unique_phone();
    let (status, _, _) = post_json("/registration", registration(("phone", &phone))).await;
    assert_eq!(status, 200);

    // A wrong password sends nothing and tells nothing.
    let (status, _, _) =
        post_json("/login", login_body(("phone", &phone), "wrong password!")).await;
    assert_eq!(status, 401);
    assert_eq!(
        Outbox::fetch().await.sms_to(&phone).len(),
        1,
        "only the registration SMS"
    );

    let (challenge_id, channel) = sign_in_until_challenged(("phone", &phone)).await;
    assert_eq!(channel, "sms");
    let sms = Outbox::fetch().await.sms_to(&phone);
    assert_eq!(sms.len(), 2);
    let otp = six_digits(sms.last().unwrap()).unwrap();

    let (status, _, pair) = post_json(
        "/login/otp",
        json!({"challenge_id": challenge_id, "otp": otp}),
    )
    .await;
    assert_eq!(status, 200, "{pair}");
    assert!(pair["access_token"].is_string() && pair["refresh_token"].is_string());
    let (status, content_type, body) = post_json(
        "/login/otp",
        json!({"challenge_id": challenge_id, "otp": otp}),
    )
    .await;
    assert_problem(status, &content_type, &body, 400, "invalid_code");

    // Verified now: the password alone signs in.
    let (status, _, pair) = post_json("/login", login_body(("phone", &phone), PASSWORD)).await;
    assert_eq!(status, 200, "{pair}");
}

#[tokio::test]
async fn an_unverified_email_signs_in_with_an_emailed_otp() {
    let email = unique_email();
    let (status, _, _) = post_json("/registration", registration(("email", &email))).await;
    assert_eq!(status, 200);
    let (challenge_id, channel) = sign_in_until_challenged(("email", &email)).await;
    assert_eq!(channel, "email");
    let mails = Outbox::fetch().await.emails_to(&email);
    assert_eq!(
        mails.len(),
        2,
        "the confirmation link, then the sign-in code"
    );
    let otp = six_digits(&mails[1].html).expect("a six-digit code in the mail");

    let (status, _, pair) = post_json(
        "/login/otp",
        json!({"challenge_id": challenge_id, "otp": otp}),
    )
    .await;
    assert_eq!(status, 200, "{pair}");
    // The OTP verified the email: the registration link is now for a verified account.
    let (status, _, pair) = post_json("/login", login_body(("email", &email), PASSWORD)).await;
    assert_eq!(status, 200, "{pair}");
}

#[tokio::test]
async fn five_wrong_otps_burn_the_challenge() {
    let email = unique_email();
    let (status, _, _) = post_json("/registration", registration(("email", &email))).await;
    assert_eq!(status, 200);
    let (challenge_id, _) = sign_in_until_challenged(("email", &email)).await;
    let otp = six_digits(&Outbox::fetch().await.emails_to(&email)[1].html).unwrap();
    let wrong = format!("{:06}", (otp.parse::<u32>().unwrap() + 1) % 1_000_000);
    for _ in 0..5 {
        let (status, content_type, body) = post_json(
            "/login/otp",
            json!({"challenge_id": challenge_id, "otp": wrong}),
        )
        .await;
        assert_problem(status, &content_type, &body, 400, "invalid_code");
    }
    let (status, content_type, body) = post_json(
        "/login/otp",
        json!({"challenge_id": challenge_id, "otp": otp}),
    )
    .await;
    assert_problem(status, &content_type, &body, 400, "too_many_attempts");
}

/// An OAuth error as RFC 6749 §5.2 has it, with the problem members beside it.
fn assert_oauth_error(
    status: StatusCode,
    content_type: &str,
    body: &Value,
    want_status: u16,
    want_error: &str,
) {
    assert_error_document(status, body, want_status, want_error);
    assert_eq!(content_type, "application/json", "{body}");
    assert_eq!(body["error"], want_error, "{body}");
    assert!(body["error_description"].is_string(), "{body}");
}

#[tokio::test]
async fn the_token_endpoint_rotates_speaks_oauth_and_logout_revokes() {
    let email = verified_email_account().await;
    let (_, _, pair) = post_json("/login", login_body(("email", &email), PASSWORD)).await;
    let first = pair["refresh_token"].as_str().unwrap().to_owned();

    // The OAuth 2.0 form, with client_id and scope ignored.
    let response = reqwest::Client::new()
        .post(api("/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", first.as_str()),
            ("client_id", "web"),
            ("scope", "openid"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let rotated: Value = response.json().await.unwrap();
    let second = rotated["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(first, second);
    assert!(rotated["refresh_expires_in"].as_i64().unwrap() <= 30 * 24 * 3600);

    // JSON works too.
    let (status, _, third) = post_json("/token", json!({"refresh_token": second})).await;
    assert_eq!(status, 200, "{third}");
    let third = third["refresh_token"].as_str().unwrap().to_owned();

    // Errors are application/json (OAuth clients accept nothing else) with RFC 6749's
    // `error` and `error_description` beside the problem members.
    let (status, content_type, body) =
        post_json("/token", json!({"refresh_token": "x".repeat(43)})).await;
    assert_oauth_error(status, &content_type, &body, 400, "invalid_grant");
    let (status, content_type, body) = post_json(
        "/token",
        json!({"grant_type": "password", "refresh_token": third}),
    )
    .await;
    assert_oauth_error(status, &content_type, &body, 400, "unsupported_grant_type");
    let (status, content_type, body) = post_json("/token", json!({"token": third})).await;
    assert_oauth_error(status, &content_type, &body, 400, "invalid_request");

    // Logout: 204, for a live token and an unknown one alike; then the family is gone.
    let (status, _, _) = post_json("/logout", json!({"refresh_token": third})).await;
    assert_eq!(status, 204);
    let (status, _, _) = post_json("/logout", json!({"refresh_token": "unknown"})).await;
    assert_eq!(status, 204);
    let (status, content_type, body) = post_json("/token", json!({"refresh_token": third})).await;
    assert_oauth_error(status, &content_type, &body, 400, "invalid_grant");

    // RFC 7009's revocation form revokes too, and gets RFC 7009's answer: 200, no body.
    let (_, _, pair) = post_json("/login", login_body(("email", &email), PASSWORD)).await;
    let fourth = pair["refresh_token"].as_str().unwrap().to_owned();
    let form = format!("token={fourth}&token_type_hint=refresh_token");
    let (status, _, _) = send(
        Method::POST,
        "/logout",
        Some("application/x-www-form-urlencoded"),
        Some(form),
    )
    .await;
    assert_eq!(status, 200);
    let (status, content_type, body) = post_json("/token", json!({"refresh_token": fourth})).await;
    assert_oauth_error(status, &content_type, &body, 400, "invalid_grant");
    let (status, content_type, body) = send(
        Method::POST,
        "/logout",
        Some("application/json"),
        Some("{".into()),
    )
    .await;
    assert_oauth_error(status, &content_type, &body, 400, "invalid_request");
}

#[tokio::test]
async fn discovery_documents_are_public_and_cacheable() {
    let issuer = required_env("API_URL");
    let response = reqwest::get(api("/.well-known/openid-configuration"))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age")
    );
    let doc: Value = response.json().await.unwrap();
    assert_eq!(doc["issuer"], issuer.as_str());
    assert_eq!(doc["jwks_uri"], format!("{issuer}/.well-known/jwks.json"));
    assert_eq!(doc["token_endpoint"], format!("{issuer}/token"));
    assert_eq!(doc["revocation_endpoint"], format!("{issuer}/logout"));
    assert_eq!(doc["grant_types_supported"], json!(["refresh_token"]));
    // Nothing the service does not do: no authorization endpoint, implicit flow or ID token.
    for claimed in [
        "authorization_endpoint",
        "response_types_supported",
        "id_token_signing_alg_values_supported",
        "subject_types_supported",
    ] {
        assert!(doc.get(claimed).is_none(), "{claimed}: {doc}");
    }

    let jwks = fetch_jwks(&issuer).await;
    assert!(!jwks.keys.is_empty());
    let raw: Value = reqwest::get(api("/.well-known/jwks.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for key in raw["keys"].as_array().unwrap() {
        assert_eq!(key["kty"], "RSA");
        assert_eq!(key["alg"], "RS256");
        assert_eq!(key["use"], "sig");
        assert!(
            key.get("d").is_none() && key.get("p").is_none(),
            "no private part is published"
        );
    }
}

/// Now, in seconds, as the functions' clocks read it.
fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64
}

#[tokio::test]
async fn an_authenticator_app_over_http_from_enrolment_to_a_second_factor_sign_in() {
    use crate::recovery::call;
    let email = verified_email_account().await;
    let (status, _, pair) = post_json("/login", login_body(("email", &email), PASSWORD)).await;
    assert_eq!(status, 200, "{pair}");
    let bearer = pair["access_token"].as_str().unwrap().to_owned();

    // Turned on: a pending secret, then a current code; 10 recovery codes once.
    let enrolment = call(Method::POST, "/me/totp", Some(&bearer), "e2e", None).await;
    assert_eq!(enrolment.status, 200, "{}", enrolment.json());
    let secret = enrolment.json()["secret"].as_str().unwrap().to_owned();
    assert!(
        enrolment.json()["otpauth_uri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/")
    );
    let confirmed = call(
        Method::POST,
        "/me/totp/confirm",
        Some(&bearer),
        "e2e",
        Some(json!({ "totp": auth_tests::totp_code(&secret, unix_now()) })),
    )
    .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.json());
    let recovery = confirmed.json()["recovery_codes"].clone();
    assert_eq!(recovery.as_array().map(Vec::len), Some(10));
    let me = call(Method::GET, "/me", Some(&bearer), "e2e", None).await;
    assert_eq!(me.json()["mfa"], json!(["totp"]));

    // The password alone now answers mfa_required; a wrong code is invalid_code; the next
    // step's code (the current one was just used) signs in with `mfa` in the token.
    let (status, content_type, step) =
        post_json("/login", login_body(("email", &email), PASSWORD)).await;
    assert_problem(status, &content_type, &step, 403, "mfa_required");
    assert_eq!(step["methods"], json!(["totp", "recovery_code"]));
    let challenge = step["challenge_id"].as_str().unwrap().to_owned();
    let (status, content_type, body) = post_json(
        "/login/mfa",
        json!({ "challenge_id": challenge, "totp": "000000" }),
    )
    .await;
    if auth_tests::totp_code(&secret, unix_now() + 30) != "000000" {
        assert_problem(status, &content_type, &body, 400, "invalid_code");
    }
    let (status, _, signed_in) = post_json(
        "/login/mfa",
        json!({ "challenge_id": challenge, "totp": auth_tests::totp_code(&secret, unix_now() + 30) }),
    )
    .await;
    assert_eq!(status, 200, "{signed_in}");
    let issuer = required_env("API_URL");
    let jwks = fetch_jwks(&issuer).await;
    let claims = verify(
        signed_in["access_token"].as_str().unwrap(),
        &jwks,
        &issuer,
        &required_env("JWT_AUDIENCE"),
    )
    .expect("a valid access token");
    assert_eq!(claims.amr, ["pwd", "otp", "mfa"]);

    // Spent: the same challenge again is invalid_challenge.
    let (status, content_type, body) = post_json(
        "/login/mfa",
        json!({ "challenge_id": challenge, "recovery_code": recovery[0] }),
    )
    .await;
    assert_problem(status, &content_type, &body, 400, "invalid_challenge");
}
