//! Signing in with another provider, against the local OpenID provider (`tools/oidc-provider`,
//! a real one: discovery, its login and consent pages, PKCE, RS256 ID tokens): new accounts,
//! existing ones never merged, linking and unlinking, single-use state, and the provider's
//! failures, each answered on the frontend page the flow started from.

use std::collections::HashMap;
use std::sync::Arc;

use auth_shared::AuthError;
use auth_shared::app::Deferred;
use auth_shared::federation::{Federation, ProviderSecrets};
use auth_shared::ops::Base as _;
use auth_shared::ops::account::{DeleteRequest, delete_account, me};
use auth_shared::ops::bearer::{Caller, authenticate};
use auth_shared::ops::budgets::Origin;
use auth_shared::ops::federation::{
    CallbackParams, LinkRequest, ProviderCodeRequest, Redirect, callback, link, login_provider,
    start, unlink,
};
use auth_shared::ops::login::login;
use auth_shared::ops::session::TokenPair;
use auth_shared::store::{ClaimItem, OAuthStateItem, keys};
use auth_tests::oidc::sign_in_at_provider;
use auth_tests::stub_provider::StubProvider;
use auth_tests::{TestApp, closed_port, config_with};

use crate::code;
use crate::confirmation::registered_email;
use crate::signin::by_email_login;

const PROVIDER: &str = "local";
const PASSWORD: &str = "correct horse battery staple";

/// The frontend page flows return to here: the first configured one.
fn page(t: &TestApp) -> String {
    t.app.config().providers.redirect_uris[0].clone()
}

fn callback_prefix(t: &TestApp) -> String {
    format!("{}/oauth/{PROVIDER}/callback", t.app.config().issuer)
}

/// What the provider sent the browser back with (`code`, `state`, or `error`).
async fn at_provider(t: &TestApp, authorization_url: &str, login: &str) -> CallbackParams {
    let back = sign_in_at_provider(authorization_url, login, &callback_prefix(t)).await;
    let query = back.split_once('?').map(|(_, q)| q).unwrap_or_default();
    serde_urlencoded::from_str(query).expect("the callback's query")
}

/// The fragment of a frontend URL the callback answered, as pairs.
fn fragment(location: &str, t: &TestApp) -> HashMap<String, String> {
    let (page_url, fragment) = location.split_once('#').expect("a fragment");
    assert_eq!(page_url, page(t), "back to the page the flow started from");
    serde_urlencoded::from_str(fragment).expect("pairs")
}

/// The `Cookie` header of the browser a start answered: the binding it set.
fn browser(started: &Redirect) -> Option<String> {
    let set_cookie = started.set_cookie.as_deref()?;
    set_cookie.split(';').next().map(str::to_owned)
}

/// A whole sign-in at the provider as `login`: the fragment the frontend gets back.
async fn provider_sign_in(t: &TestApp, login: &str) -> HashMap<String, String> {
    let started = start(&t.app, PROVIDER, Some(&page(t)))
        .await
        .expect("started");
    let params = at_provider(t, &started.location, login).await;
    let back = callback(&t.app, PROVIDER, params, browser(&started).as_deref())
        .await
        .expect("a redirect");
    fragment(&back.location, t)
}

async fn trade(t: &TestApp, code: &str) -> Result<TokenPair, AuthError> {
    login_provider(
        &t.app,
        ProviderCodeRequest {
            code: code.to_owned(),
            origin: Origin::default(),
        },
    )
    .await
}

async fn caller(t: &TestApp, pair: &TokenPair) -> Caller {
    authenticate(&t.app, Some(&pair.access_token))
        .await
        .expect("a live session")
}

fn unique_login() -> String {
    format!("fed-{}", uuid::Uuid::new_v4().simple())
}

#[tokio::test]
async fn a_new_identity_signs_in_to_a_verified_account_of_its_own_with_no_password() {
    let t = TestApp::new().await;
    let login_name = unique_login();
    let back = provider_sign_in(&t, &login_name).await;
    let pair = trade(&t, &back["code"]).await.expect("signed in");
    assert_eq!(crate::signed_in_by(&t, &pair.access_token).0, ["fed"]);
    let account = caller(&t, &pair).await;
    let shown = me(&account, &[]).unwrap();
    assert_eq!(
        shown.email.as_deref(),
        Some(format!("{login_name}@example.com").as_str())
    );
    assert!(shown.verified, "the provider verified the email");
    assert_eq!(shown.providers, ["local"]);
    assert!(!shown.has_password);
    // No password signs in to it, not even an empty one.
    for password in ["", PASSWORD] {
        assert_eq!(
            code(
                login(
                    &t.app,
                    by_email_login(&format!("{login_name}@example.com"), password)
                )
                .await
            ),
            "invalid_credentials"
        );
    }
    // The code is spent; the next sign-in finds the same account.
    assert_eq!(code(trade(&t, &back["code"]).await), "invalid_code");
    let again = provider_sign_in(&t, &login_name).await;
    let pair = trade(&t, &again["code"]).await.expect("signed in again");
    assert_eq!(caller(&t, &pair).await.user.user_id, account.user.user_id);
}

#[tokio::test]
async fn an_email_an_account_holds_is_never_merged_until_its_owner_links_the_provider() {
    let t = TestApp::new().await;
    // A verified account with the address the provider will vouch for.
    let login_name = unique_login();
    let email = format!("{login_name}@example.com");
    let (_, link_code) = registered_email(&t, &email).await;
    auth_shared::ops::confirm::confirm(&t.app, &link_code, None, &crate::NO_ORIGIN)
        .await
        .expect("confirmed");
    let back = provider_sign_in(&t, &login_name).await;
    assert_eq!(back["error"], "account_exists", "no silent merge");
    assert!(!back.contains_key("code"));

    // Its owner signs in with the password and links the provider (a fresh sign-in: no
    // password needed for the step-up).
    let pair = login(&t.app, by_email_login(&email, PASSWORD))
        .await
        .unwrap();
    let owner = caller(&t, &pair).await;
    let started = link(
        &t.app,
        &owner,
        PROVIDER,
        LinkRequest {
            redirect_uri: page(&t),
            password: None,
        },
    )
    .await
    .expect("a link flow");
    let params = at_provider(&t, &started.authorization_url, &login_name).await;
    let location = callback(&t.app, PROVIDER, params, None)
        .await
        .unwrap()
        .location;
    assert_eq!(fragment(&location, &t)["linked"], "local");
    // Now the provider signs in to that account, and it lists the provider.
    let back = provider_sign_in(&t, &login_name).await;
    let pair = trade(&t, &back["code"]).await.unwrap();
    let account = caller(&t, &pair).await;
    assert_eq!(account.user.user_id, owner.user.user_id);
    assert_eq!(me(&account, &[]).unwrap().providers, ["local"]);
    assert!(me(&account, &[]).unwrap().has_password);

    // An identity another account holds does not link to a second one.
    let (_, second_code) = registered_email(&t, &auth_tests::unique_email()).await;
    let second = auth_shared::ops::confirm::confirm(&t.app, &second_code, None, &crate::NO_ORIGIN)
        .await
        .unwrap();
    let second = caller(&t, &second.tokens).await;
    let started = link(
        &t.app,
        &second,
        PROVIDER,
        LinkRequest {
            redirect_uri: page(&t),
            password: None,
        },
    )
    .await
    .unwrap();
    let params = at_provider(&t, &started.authorization_url, &login_name).await;
    let location = callback(&t.app, PROVIDER, params, None)
        .await
        .unwrap()
        .location;
    assert_eq!(fragment(&location, &t)["error"], "identity_in_use");

    // Unlinked (the account keeps its password), the provider's sign-in no longer finds it.
    unlink(&t.app, &account, PROVIDER, None)
        .await
        .expect("unlinked");
    let back = provider_sign_in(&t, &login_name).await;
    assert_eq!(back["error"], "account_exists");
    let activity = auth_shared::ops::audit::page(&t.app, &account.user.user_id, None, Some(100))
        .await
        .unwrap()
        .activity;
    // (Within one millisecond of the test's clock: in either order.)
    let mut changes: Vec<(&str, Option<&str>)> = activity
        .iter()
        .filter(|a| a.event.starts_with("provider_"))
        .map(|a| (a.event.as_str(), a.detail.as_deref()))
        .collect();
    changes.sort_unstable();
    assert_eq!(
        changes,
        [
            ("provider_linked", Some("local")),
            ("provider_unlinked", Some("local"))
        ]
    );
}

#[tokio::test]
async fn an_unverified_account_holding_the_email_is_not_handed_to_the_provider_s_user() {
    let t = TestApp::new().await;
    let login_name = unique_login();
    // Registered, never confirmed (a squatter, perhaps).
    registered_email(&t, &format!("{login_name}@example.com")).await;
    let back = provider_sign_in(&t, &login_name).await;
    assert_eq!(back["error"], "account_exists");
}

#[tokio::test]
async fn a_flow_s_state_is_single_use_and_its_failures_return_to_the_frontend() {
    let t = TestApp::new().await;
    let authorization = start(&t.app, PROVIDER, Some(&page(&t))).await.unwrap();
    let cookie = browser(&authorization);
    let params = at_provider(&t, &authorization.location, &unique_login()).await;
    let replay = CallbackParams {
        state: params.state.clone(),
        code: params.code.clone(),
        error: None,
    };
    let first = callback(&t.app, PROVIDER, params, cookie.as_deref())
        .await
        .expect("the first callback");
    assert!(
        first.set_cookie.unwrap().contains("Max-Age=0"),
        "the binding is removed"
    );
    assert_eq!(
        code(callback(&t.app, PROVIDER, replay, cookie.as_deref()).await),
        "invalid_state"
    );
    let forged = CallbackParams {
        state: Some("not-a-state".into()),
        code: Some("x".into()),
        error: None,
    };
    assert_eq!(
        code(callback(&t.app, PROVIDER, forged, cookie.as_deref()).await),
        "invalid_state"
    );

    // The user refuses at the provider: back to the page with the provider's error.
    let authorization = start(&t.app, PROVIDER, Some(&page(&t))).await.unwrap();
    let params = at_provider(&t, &authorization.location, "deny").await;
    assert_eq!(params.error.as_deref(), Some("access_denied"));
    let location = callback(&t.app, PROVIDER, params, browser(&authorization).as_deref())
        .await
        .unwrap()
        .location;
    assert_eq!(fragment(&location, &t)["error"], "access_denied");

    // An ID token whose nonce is not the flow's is refused (the stored nonce changed here
    // stands for a token minted for another flow).
    let authorization = start(&t.app, PROVIDER, Some(&page(&t))).await.unwrap();
    let cookie = browser(&authorization);
    let params = at_provider(&t, &authorization.location, &unique_login()).await;
    let state = params.state.clone().unwrap();
    let pk = keys::oauth_state(&auth_shared::crypto::sha256_hex(state.as_bytes()));
    let mut flow: OAuthStateItem = t.app.store().get(&pk, keys::STATE).await.unwrap().unwrap();
    flow.nonce = Some("another flow's nonce".into());
    t.app
        .store()
        .put_if(&flow, auth_shared::store::Expr::new("attribute_exists(pk)"))
        .await
        .unwrap();
    let location = callback(&t.app, PROVIDER, params, cookie.as_deref())
        .await
        .unwrap()
        .location;
    assert_eq!(fragment(&location, &t)["error"], "provider_error");

    // Only the configured pages, exactly.
    assert_eq!(
        code(start(&t.app, PROVIDER, Some("https://evil.example/signin")).await),
        "invalid_redirect_uri"
    );
    assert_eq!(
        code(start(&t.app, PROVIDER, Some(&format!("{}/", page(&t)))).await),
        "invalid_redirect_uri"
    );
    assert_eq!(
        code(start(&t.app, PROVIDER, None).await),
        "invalid_redirect_uri"
    );
    assert_eq!(
        code(start(&t.app, "nobody", Some(&page(&t))).await),
        "provider_not_found"
    );
}

#[tokio::test]
async fn a_sign_in_s_callback_is_taken_only_from_the_browser_that_started_it() {
    let t = TestApp::new().await;
    // Someone starts a sign-in and finishes it at the provider as themselves, then hands the
    // callback URL to a victim, whose browser holds no binding, or another flow's.
    let attacker = start(&t.app, PROVIDER, Some(&page(&t))).await.unwrap();
    let set_cookie = attacker.set_cookie.clone().expect("a binding");
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"));
    assert!(set_cookie.contains(&format!("Path=/oauth/{PROVIDER}/callback")));
    assert!(set_cookie.contains("Max-Age=600"));
    let params = at_provider(&t, &attacker.location, &unique_login()).await;
    let again = |p: &CallbackParams| CallbackParams {
        state: p.state.clone(),
        code: p.code.clone(),
        error: None,
    };
    assert_eq!(
        code(callback(&t.app, PROVIDER, again(&params), None).await),
        "invalid_state"
    );
    // Spent by that attempt: not even the starting browser can use it afterwards.
    assert_eq!(
        code(
            callback(
                &t.app,
                PROVIDER,
                again(&params),
                browser(&attacker).as_deref()
            )
            .await
        ),
        "invalid_state"
    );

    let attacker = start(&t.app, PROVIDER, Some(&page(&t))).await.unwrap();
    let victim = start(&t.app, PROVIDER, Some(&page(&t))).await.unwrap();
    let params = at_provider(&t, &attacker.location, &unique_login()).await;
    // The victim's own flow's cookie, with its secret under the attacker flow's name.
    let victims_secret = browser(&victim).unwrap();
    let (_, secret) = victims_secret.split_once('=').unwrap();
    let (name, _) = browser(&attacker)
        .unwrap()
        .split_once('=')
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .unwrap();
    let mixed = format!("{}; {name}={secret}", browser(&victim).unwrap());
    assert_eq!(
        code(callback(&t.app, PROVIDER, params, Some(&mixed)).await),
        "invalid_state"
    );
}

#[tokio::test]
async fn a_provider_that_cannot_be_reached_is_answered_on_the_frontend_page() {
    let down = format!(
        r#"[{{"name":"local","kind":"oidc","issuer":"http://127.0.0.1:{}","client_id":"x"}}]"#,
        closed_port()
    );
    let t = TestApp::with_config(config_with(&[("OAUTH_PROVIDERS", &down)])).await;
    let started = start(&t.app, PROVIDER, Some(&page(&t))).await.unwrap();
    assert_eq!(started.set_cookie, None, "no flow started, nothing to bind");
    let back = fragment(&started.location, &t);
    assert_eq!(back["error"], "provider_unavailable");
    assert_eq!(back["provider"], "local");
}

#[tokio::test]
async fn the_last_way_to_sign_in_stays_and_deleting_the_account_frees_the_identity() {
    let t = TestApp::new().await;
    let login_name = unique_login();
    let back = provider_sign_in(&t, &login_name).await;
    let pair = trade(&t, &back["code"]).await.unwrap();
    let account = caller(&t, &pair).await;
    // No password, one provider, no passkey: unlinking would lock the user out.
    assert_eq!(
        code(unlink(&t.app, &account, PROVIDER, None).await),
        "last_sign_in_method"
    );
    assert_eq!(
        code(unlink(&t.app, &account, "github", None).await),
        "provider_not_linked"
    );
    let claim_key = account.user.providers["local"].clone();
    // The account deleted (its password is unknown: a reset would set one first; here the
    // stored hash is replaced the way a reset would).
    let reset_password = auth_shared::crypto::PasswordHasher::new()
        .unwrap()
        .hash(&auth_shared::domain::Password::for_login(PASSWORD.into()))
        .await
        .unwrap();
    let mut user = account.user.clone();
    user.password_hash = reset_password;
    user.no_password = false;
    t.app
        .store()
        .put_if(&user, auth_shared::store::Expr::new("attribute_exists(pk)"))
        .await
        .unwrap();
    let account = Caller { user, ..account };
    delete_account(
        &t.app,
        &account,
        DeleteRequest {
            password: PASSWORD.into(),
        },
    )
    .await
    .expect("deleted");
    let claim: Option<ClaimItem> = t.app.store().get(&claim_key, keys::CLAIM).await.unwrap();
    assert!(claim.is_none(), "the identity is free again");
    // Signing in with the provider again makes a new account.
    let back = provider_sign_in(&t, &login_name).await;
    let pair = trade(&t, &back["code"]).await.unwrap();
    assert_ne!(caller(&t, &pair).await.user.user_id, account.user.user_id);
}

/// An app whose providers are the stub: `stub` (OpenID) and `gh` (GitHub), with their
/// secrets.
async fn with_stub() -> (TestApp, StubProvider) {
    let stub = StubProvider::start("stub-client").await;
    let providers = format!(
        r#"[{{"name":"stub","kind":"oidc","issuer":"{0}","client_id":"stub-client"}},
            {{"name":"gh","kind":"github","client_id":"gh-client"}}]"#,
        stub.url
    );
    let t = TestApp::with_config(config_with(&[("OAUTH_PROVIDERS", &providers)])).await;
    let secrets: ProviderSecrets =
        serde_json::from_str(r#"{"stub":{"client_secret":"s1"},"gh":{"client_secret":"s2"}}"#)
            .unwrap();
    let federation =
        Federation::with_github(Deferred::ready(Arc::new(secrets)), &stub.url, &stub.url).unwrap();
    let t = TestApp {
        app: t.app.with_federation(federation),
        clock: t.clock,
    };
    (t, stub)
}

/// Starts a flow at `provider` and answers its callback as the provider would (the code is
/// the stub's to accept): where the browser lands.
async fn through_the_stub(
    t: &TestApp,
    stub: &StubProvider,
    provider: &str,
) -> HashMap<String, String> {
    let authorization = start(&t.app, provider, Some(&page(t))).await.unwrap();
    let query: HashMap<String, String> =
        serde_urlencoded::from_str(authorization.location.split_once('?').unwrap().1).unwrap();
    if let Some(nonce) = query.get("nonce") {
        stub.answer_with(|a| a.nonce = nonce.clone());
    }
    let params = CallbackParams {
        state: query.get("state").cloned(),
        code: Some("stub-code".into()),
        error: None,
    };
    let location = callback(&t.app, provider, params, browser(&authorization).as_deref())
        .await
        .unwrap()
        .location;
    fragment(&location, t)
}

#[tokio::test]
async fn an_id_token_for_another_audience_is_refused() {
    let (t, stub) = with_stub().await;
    let email = auth_tests::unique_email();
    stub.answer_with(|a| {
        a.email = email.clone();
        a.audience = Some("another-client".into());
    });
    let back = through_the_stub(&t, &stub, "stub").await;
    assert_eq!(back["error"], "provider_error", "{back:?}");
    // The same answer for this client signs in: the audience was the only fault.
    stub.answer_with(|a| a.audience = None);
    let back = through_the_stub(&t, &stub, "stub").await;
    let pair = trade(&t, &back["code"]).await.unwrap();
    assert_eq!(
        me(&caller(&t, &pair).await, &[]).unwrap().email.as_deref(),
        Some(email.as_str())
    );
}

#[tokio::test]
async fn github_s_user_id_and_primary_verified_email_make_the_identity() {
    let (t, stub) = with_stub().await;
    let email = auth_tests::unique_email();
    stub.answer_with(|a| {
        a.email = email.clone();
        a.email_verified = false;
    });
    let back = through_the_stub(&t, &stub, "gh").await;
    assert_eq!(
        back.get("error").map(String::as_str),
        Some("email_not_verified"),
        "{back:?}"
    );
    stub.answer_with(|a| a.email_verified = true);
    let back = through_the_stub(&t, &stub, "gh").await;
    let pair = trade(&t, &back["code"]).await.unwrap();
    let account = caller(&t, &pair).await;
    assert_eq!(
        me(&account, &[]).unwrap().email.as_deref(),
        Some(email.as_str())
    );
    assert_eq!(
        account.user.providers["gh"],
        keys::identity(
            auth_shared::federation::GITHUB_ISSUER,
            &stub.answers().github_id.to_string()
        )
    );
}
