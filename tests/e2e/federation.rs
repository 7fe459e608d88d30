//! Signing in with another provider over HTTP, against the local OpenID provider: the start
//! route's redirect, the provider's pages, the callback's redirect back to the web app with a
//! one-time code in the fragment (by query and by form post), the code traded for tokens, a
//! callback brought by another browser than the one that started, and one whose state is
//! unknown.

use auth_tests::downstream::{fetch_jwks, verify};
use auth_tests::oidc::sign_in_at_provider;
use auth_tests::required_env;
use reqwest::StatusCode;
use serde_json::json;

use crate::{api, assert_problem, post_json};

/// A client that reads redirects instead of following them.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn page() -> String {
    format!("{}/signin", required_env("WEB_URL"))
}

/// `GET /oauth/local/start`, the provider as `login`: the callback URL it sends the browser
/// to, and the `Cookie` header of the browser that started (the binding the start set).
async fn to_the_callback(login: &str) -> (String, String) {
    let started = client()
        .get(api("/oauth/local/start"))
        .query(&[("redirect_uri", page())])
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), StatusCode::FOUND);
    assert_eq!(started.headers()["cache-control"], "no-store");
    let provider = started.headers()["location"].to_str().unwrap().to_owned();
    let set_cookie = started.headers()["set-cookie"].to_str().unwrap();
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    assert!(
        provider.starts_with(&required_env("LOCAL_OIDC_ISSUER")),
        "{provider}"
    );
    for needed in [
        "state=",
        "nonce=",
        "code_challenge=",
        "code_challenge_method=S256",
    ] {
        assert!(provider.contains(needed), "{needed} in {provider}");
    }
    let callback = sign_in_at_provider(&provider, login, &api("/oauth/local/callback")).await;
    (callback, cookie)
}

/// The fragment of the web-app page a callback answered, after checking the redirect.
fn fragment_of(response: &reqwest::Response) -> std::collections::HashMap<String, String> {
    assert_eq!(response.status(), StatusCode::FOUND);
    let location = response.headers()["location"].to_str().unwrap();
    let (to, fragment) = location.split_once('#').expect("a fragment");
    assert_eq!(to, page(), "back to the page the flow started from");
    serde_urlencoded::from_str(fragment).unwrap()
}

#[tokio::test]
async fn a_provider_sign_in_over_http_from_the_start_redirect_to_tokens() {
    let login = format!("e2e-{}", uuid::Uuid::new_v4().simple());
    // Only the browser that started the flow may bring its callback (a callback handed to
    // another browser is refused and spent).
    let (handed_over, _) = to_the_callback(&login).await;
    let elsewhere = client().get(&handed_over).send().await.unwrap();
    assert_eq!(elsewhere.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = elsewhere.json().await.unwrap();
    assert_eq!(body["code"], "invalid_state");
    let (callback, cookie) = to_the_callback(&login).await;
    let back = client()
        .get(&callback)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert!(
        back.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0"),
        "the binding is removed"
    );
    let fragment = fragment_of(&back);
    let code = fragment["code"].clone();
    let (status, _, pair) = post_json("/login/provider", json!({ "code": code })).await;
    assert_eq!(status, 200, "{pair}");
    let issuer = required_env("API_URL");
    let claims = verify(
        pair["access_token"].as_str().unwrap(),
        &fetch_jwks(&issuer).await,
        &issuer,
        &required_env("JWT_AUDIENCE"),
    )
    .unwrap();
    assert_eq!(claims.amr, ["fed"]);
    // Used once; and the callback's state is spent.
    let (status, content_type, body) = post_json("/login/provider", json!({ "code": code })).await;
    assert_problem(status, &content_type, &body, 400, "invalid_code");
    let again = client()
        .get(&callback)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = again.json().await.unwrap();
    assert_eq!(body["code"], "invalid_state");

    // The same answer posted as a form (as Apple answers) signs in to the same account.
    let (callback, cookie) = to_the_callback(&login).await;
    let query = callback.split_once('?').unwrap().1.to_owned();
    let posted = client()
        .post(api("/oauth/local/callback"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", &cookie)
        .body(query)
        .send()
        .await
        .unwrap();
    let code = fragment_of(&posted)["code"].clone();
    let (status, _, second) = post_json("/login/provider", json!({ "code": code })).await;
    assert_eq!(status, 200, "{second}");
    let me = |pair: &serde_json::Value| {
        let token = pair["access_token"].as_str().unwrap().to_owned();
        async move {
            client()
                .get(api("/me"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    };
    let (first, again) = (me(&pair).await, me(&second).await);
    assert_eq!(first["user_id"], again["user_id"]);
    assert_eq!(first["email"], format!("{login}@example.com"));
    assert_eq!(first["providers"], json!(["local"]));

    // A page that is not configured is refused before anything is stored.
    let refused = client()
        .get(api("/oauth/local/start"))
        .query(&[("redirect_uri", "https://evil.example/signin")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
}
