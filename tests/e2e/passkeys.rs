//! Passkeys over HTTP, with a software authenticator that makes real ES256 attestations and
//! assertions for the web app's origin (WEB_URL): registration, listing, renaming, sign-in
//! without an identifier, the passkey as the second factor after a password, and removal.

use auth_tests::authenticator::SoftAuthenticator;
use auth_tests::downstream::{fetch_jwks, verify};
use auth_tests::required_env;
use reqwest::Method;
use serde_json::{Value, json};

use crate::recovery::call;
use crate::signin::verified_email_account;
use crate::{assert_problem, post_json};

const PASSWORD: &str = "correct horse battery staple";

/// The `amr` of an access token, verified against the published keys.
async fn amr_of(pair: &Value) -> Vec<String> {
    let issuer = required_env("API_URL");
    let jwks = fetch_jwks(&issuer).await;
    verify(
        pair["access_token"].as_str().unwrap(),
        &jwks,
        &issuer,
        &required_env("JWT_AUDIENCE"),
    )
    .expect("a valid access token")
    .amr
}

/// `POST /login/passkey/options`, the authenticator, `POST /login/passkey`.
async fn passkey_sign_in(authenticator: &mut SoftAuthenticator) -> (u16, Value) {
    let (status, _, ceremony) = post_json("/login/passkey/options", json!({})).await;
    assert_eq!(status, 200, "{ceremony}");
    assert_eq!(ceremony["options"]["userVerification"], "required");
    let credential = authenticator.sign_in(&ceremony["options"]).unwrap();
    let (status, _, answer) = post_json(
        "/login/passkey",
        json!({ "challenge_id": ceremony["challenge_id"], "credential": credential }),
    )
    .await;
    (status.as_u16(), answer)
}

#[tokio::test]
async fn a_passkey_over_http_from_registration_to_both_ways_of_signing_in_and_removal() {
    let email = verified_email_account().await;
    let (status, _, pair) =
        post_json("/login", json!({ "email": email, "password": PASSWORD })).await;
    assert_eq!(status, 200, "{pair}");
    let bearer = pair["access_token"].as_str().unwrap().to_owned();

    // Registered: creation options, the authenticator's attestation, 201.
    let ceremony = call(
        Method::POST,
        "/me/passkeys/options",
        Some(&bearer),
        "e2e",
        None,
    )
    .await;
    assert_eq!(ceremony.status, 200, "{}", ceremony.json());
    let ceremony = ceremony.json();
    let mut authenticator = SoftAuthenticator::new(&required_env("WEB_URL"));
    let credential = authenticator.register(&ceremony["options"]).unwrap();
    let added = call(
        Method::POST,
        "/me/passkeys",
        Some(&bearer),
        "e2e",
        Some(json!({
            "challenge_id": ceremony["challenge_id"],
            "credential": credential,
            "name": "Laptop",
        })),
    )
    .await;
    assert_eq!(added.status, 201, "{}", added.json());
    let id = added.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(added.json()["name"], "Laptop");

    let renamed = call(
        Method::PATCH,
        &format!("/me/passkeys/{id}"),
        Some(&bearer),
        "e2e",
        Some(json!({ "name": "Phone" })),
    )
    .await;
    assert_eq!(renamed.status, 200, "{}", renamed.json());
    let listed = call(Method::GET, "/me/passkeys", Some(&bearer), "e2e", None).await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.json()["passkeys"][0]["id"], id.as_str());
    assert_eq!(listed.json()["passkeys"][0]["name"], "Phone");
    let me = call(Method::GET, "/me", Some(&bearer), "e2e", None).await;
    assert_eq!(me.json()["mfa"], json!(["passkey"]));

    // No identifier typed: the passkey alone signs in, as two factors.
    let (status, signed_in) = passkey_sign_in(&mut authenticator).await;
    assert_eq!(status, 200, "{signed_in}");
    assert_eq!(amr_of(&signed_in).await, ["hwk", "user", "mfa"]);

    // The password now asks for the passkey, with request options naming it.
    let (status, content_type, step) =
        post_json("/login", json!({ "email": email, "password": PASSWORD })).await;
    assert_problem(status, &content_type, &step, 403, "mfa_required");
    assert_eq!(step["methods"], json!(["passkey"]));
    assert_eq!(
        step["passkey_options"]["allowCredentials"][0]["id"],
        authenticator.credential_id().as_str()
    );
    let assertion = authenticator.sign_in(&step["passkey_options"]).unwrap();
    let (status, _, second) = post_json(
        "/login/mfa",
        json!({ "challenge_id": step["challenge_id"], "credential": assertion }),
    )
    .await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(amr_of(&second).await, ["pwd", "hwk", "user", "mfa"]);
    // A stale assertion (the one just used, for a spent challenge) is refused.
    let (status, content_type, body) = post_json(
        "/login/mfa",
        json!({ "challenge_id": step["challenge_id"], "credential": assertion }),
    )
    .await;
    assert_problem(status, &content_type, &body, 400, "invalid_challenge");

    // Removed (the session is fresh: no password needed), it no longer signs in.
    let path = format!("/me/passkeys/{id}");
    let remove = || call(Method::DELETE, &path, Some(&bearer), "e2e", None);
    assert_eq!(remove().await.status, 204);
    let (status, refused) = passkey_sign_in(&mut authenticator).await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["code"], "invalid_credential");
    let missing = remove().await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["code"], "passkey_not_found");
}
