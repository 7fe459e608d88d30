//! Signing in with another provider. `GET /oauth/{provider}/start` sends the browser to the
//! provider with `state`, `nonce` and PKCE (kept single use for 10 minutes);
//! `GET|POST /oauth/{provider}/callback` verifies what comes back and sends the browser to
//! the frontend page it started from, with a one-time sign-in code in the fragment (never a
//! token in a URL), or an error code there; `POST /login/provider` trades the code for a
//! token pair, or `mfa_required`. A signed-in user links a provider (`POST
//! /me/providers/{provider}`, the same flow) and unlinks it (`DELETE`).
//!
//! Takeover paths, each closed: an identity (issuer and subject) is claimed by one account;
//! a new identity whose email a live account holds (verified or not) makes no account and
//! joins none (`account_exists`: sign in, then link); an email the provider does not say it
//! verified makes no account (`email_not_verified`); linking happens only for the signed-in
//! user who started it, and only for an identity no other account holds; a sign-in's
//! callback is taken only from the browser that started it (a cookie the start sets on the
//! callback's path holds a secret whose digest the state keeps), so nobody can hand a victim
//! the callback of a flow they finished as themselves (login CSRF).

use serde::Deserialize;

use crate::AuthError;
use crate::crypto::{self, SignedIn};
use crate::domain::Identifier;
use crate::federation::{Identity, ProviderConfig, ProviderFailure};
use crate::ops::bearer::Caller;
use crate::ops::budgets::{self, Origin};
use crate::ops::session::{self, TokenPair};
use crate::ops::totp::step_up;
use crate::ops::{Base, Federates, Hashes, Issues, audit, login};
use crate::store::{
    Audit, ClaimItem, CodeItem, IdentityCreated, IdentityLinked, OAuthStateItem, UserItem,
    UserStatus, keys,
};

/// How long a started flow waits for its callback.
const STATE_TTL_SECS: i64 = 600;
/// How long the frontend has to trade a sign-in code.
const SIGN_IN_CODE_TTL_SECS: i64 = 120;

/// A provider's callback: `code` and `state`, or `error` (RFC 6749 §4.1.2.1).
#[derive(Deserialize, Default)]
pub struct CallbackParams {
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
}

redacted_debug!(CallbackParams { error; state, code });

/// `POST /login/provider`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderCodeRequest {
    pub code: String,
    /// Who asked, from the HTTP request (not the body).
    #[serde(skip)]
    pub origin: Origin,
}

redacted_debug!(ProviderCodeRequest { ; code });

/// `POST /me/providers/{provider}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    pub redirect_uri: String,
    #[serde(default, deserialize_with = "crate::domain::present")]
    pub password: Option<String>,
}

redacted_debug!(LinkRequest { redirect_uri; password });

/// The answer to `POST /me/providers/{provider}`: the page the frontend opens.
#[derive(Debug, serde::Serialize, Deserialize)]
pub struct LinkStarted {
    pub authorization_url: String,
}

fn provider_of<'a>(app: &'a impl Base, name: &str) -> Result<&'a ProviderConfig, AuthError> {
    app.config()
        .providers
        .get(name)
        .ok_or(AuthError::ProviderNotFound)
}

/// Where the provider sends the browser back: this API's callback route.
fn callback_url(app: &impl Base, provider: &ProviderConfig) -> String {
    format!("{}/oauth/{}/callback", app.config().issuer, provider.name)
}

/// A frontend page with `pairs` in its fragment.
fn with_fragment(redirect_uri: &str, pairs: &[(&str, &str)]) -> String {
    let fragment = serde_urlencoded::to_string(pairs).unwrap_or_default();
    format!("{redirect_uri}#{fragment}")
}

/// The cookie that ties a sign-in's callback to the browser that started it: a secret, on
/// the callback's path only, for the state's 10 minutes; one per flow (named after its
/// state), so flows in two tabs do not collide.
pub struct BrowserBinding {
    name: String,
    secret: String,
    path: String,
    /// A provider that answers with a cross-site form post (Apple) needs `SameSite=None`,
    /// which browsers take only with `Secure`; a top-level redirect back carries `Lax` ones.
    cross_site: bool,
    secure: bool,
}

impl BrowserBinding {
    fn name_for(state_digest: &str) -> String {
        format!("auth_flow_{}", &state_digest[..16])
    }

    fn new(
        app: &impl Base,
        provider: &ProviderConfig,
        state_digest: &str,
    ) -> Result<Self, AuthError> {
        let callback = callback_url(app, provider);
        let path = openidconnect::url::Url::parse(&callback)
            .map(|u| u.path().to_owned())
            .unwrap_or_else(|_| format!("/oauth/{}/callback", provider.name));
        let cross_site = provider.kind == crate::federation::ProviderKind::Apple;
        Ok(Self {
            name: Self::name_for(state_digest),
            secret: crypto::base64url(&crypto::random_array::<32>()?),
            path,
            cross_site,
            secure: cross_site || callback.starts_with("https://"),
        })
    }

    fn attributes(&self, max_age: i64) -> String {
        let same_site = if self.cross_site { "None" } else { "Lax" };
        let secure = if self.secure { "; Secure" } else { "" };
        format!(
            "Path={}; Max-Age={max_age}; HttpOnly; SameSite={same_site}{secure}",
            self.path
        )
    }

    /// The `Set-Cookie` value the start answers with.
    pub fn set_cookie(&self) -> String {
        format!(
            "{}={}; {}",
            self.name,
            self.secret,
            self.attributes(STATE_TTL_SECS)
        )
    }

    /// The `Set-Cookie` value that removes it (the callback answers with it).
    pub fn cleared(&self) -> String {
        format!("{}=; {}", self.name, self.attributes(0))
    }
}

/// The value of the cookie `name` in a `Cookie` header.
fn cookie<'a>(header: Option<&'a str>, name: &str) -> Option<&'a str> {
    header?
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// Where a flow's start or callback sends the browser, and the cookie it sets (the start:
/// its binding; the callback: the binding removed).
#[derive(Debug)]
pub struct Redirect {
    pub location: String,
    pub set_cookie: Option<String>,
}

impl Redirect {
    fn to(location: String) -> Self {
        Self {
            location,
            set_cookie: None,
        }
    }
}

fn failure_code(failure: &ProviderFailure) -> &'static str {
    match failure {
        ProviderFailure::Unavailable(_) => "provider_unavailable",
        ProviderFailure::Refused(_) => "provider_error",
    }
}

/// Starts a flow at `provider` returning to `redirect_uri` (one of the configured pages):
/// the provider's authorization URL (and, for a sign-in, the cookie that binds the flow to
/// this browser), or the failure when the provider cannot be reached.
async fn begin(
    app: &impl Federates,
    provider: &ProviderConfig,
    redirect_uri: &str,
    link_user_id: Option<&str>,
) -> Result<Result<Redirect, ProviderFailure>, AuthError> {
    let authorization = match app
        .federation()
        .authorize(provider, &callback_url(app, provider))
        .await
    {
        Ok(authorization) => authorization,
        Err(failure) => {
            tracing::warn!(provider = %provider.name, error = %failure, "a provider's flow could not start");
            return Ok(Err(failure));
        }
    };
    let now = app.now();
    let state_digest = crypto::sha256_hex(authorization.state.as_bytes());
    // A link is started by a signed-in user's request and ends on their account alone; a
    // sign-in ends in whichever browser brings the callback, so it must be the starting one.
    let binding = match link_user_id {
        None => Some(BrowserBinding::new(app, provider, &state_digest)?),
        Some(_) => None,
    };
    let item = OAuthStateItem {
        pk: keys::oauth_state(&state_digest),
        sk: keys::STATE.to_owned(),
        provider: provider.name.clone(),
        redirect_uri: redirect_uri.to_owned(),
        pkce_verifier: authorization.pkce_verifier,
        nonce: authorization.nonce,
        link_user_id: link_user_id.map(str::to_owned),
        browser_digest: binding
            .as_ref()
            .map(|b| crypto::sha256_hex(b.secret.as_bytes())),
        created_at: now,
        expires_at: now + STATE_TTL_SECS,
        used: false,
    };
    if !app.store().insert(&item).await? {
        return Err(AuthError::internal("a new state was taken"));
    }
    Ok(Ok(Redirect {
        location: authorization.url,
        set_cookie: binding.map(|b| b.set_cookie()),
    }))
}

/// `GET /oauth/{provider}/start?redirect_uri=…`: where to send the browser (302), with the
/// cookie that binds the flow to it.
#[tracing::instrument(skip_all, fields(provider = %provider))]
pub async fn start(
    app: &impl Federates,
    provider: &str,
    redirect_uri: Option<&str>,
) -> Result<Redirect, AuthError> {
    let provider = provider_of(app, provider)?;
    let redirect_uri = redirect_uri.unwrap_or_default();
    if !app.config().providers.allows_redirect(redirect_uri) {
        return Err(AuthError::InvalidRedirectUri);
    }
    Ok(match begin(app, provider, redirect_uri, None).await? {
        Ok(redirect) => redirect,
        Err(failure) => Redirect::to(with_fragment(
            redirect_uri,
            &[
                ("error", failure_code(&failure)),
                ("provider", &provider.name),
            ],
        )),
    })
}

/// `POST /me/providers/{provider}` (step-up): the URL that links the provider's identity to
/// the caller's account once the user signs in there.
#[tracing::instrument(skip_all, fields(user_id = %caller.user.user_id, provider = %provider))]
pub async fn link(
    app: &(impl Federates + Hashes),
    caller: &Caller,
    provider: &str,
    request: LinkRequest,
) -> Result<LinkStarted, AuthError> {
    let provider = provider_of(app, provider)?;
    if !app
        .config()
        .providers
        .allows_redirect(&request.redirect_uri)
    {
        return Err(AuthError::InvalidRedirectUri);
    }
    step_up(app, caller, request.password).await?;
    if caller.user.providers.contains_key(&provider.name) {
        return Err(AuthError::ProviderAlreadyLinked);
    }
    match begin(
        app,
        provider,
        &request.redirect_uri,
        Some(&caller.user.user_id),
    )
    .await?
    {
        Ok(redirect) => Ok(LinkStarted {
            authorization_url: redirect.location,
        }),
        Err(_) => Err(AuthError::ProviderUnavailable),
    }
}

/// `GET|POST /oauth/{provider}/callback`: where to send the browser (302), always the
/// frontend page the flow started from, with `code` (a sign-in), `linked` or `error` in
/// the fragment. Only a callback whose `state` is unknown, used or expired, or a sign-in's
/// brought by another browser than the one that started it (`cookies`, the request's
/// `Cookie` header, lacks its binding), is answered here (`invalid_state`): nothing says
/// where it would be safe to send it.
#[tracing::instrument(skip_all, fields(provider = %provider))]
pub async fn callback(
    app: &impl Federates,
    provider: &str,
    params: CallbackParams,
    cookies: Option<&str>,
) -> Result<Redirect, AuthError> {
    let now = app.now();
    let CallbackParams { state, code, error } = params;
    let answer = Answer { code, error };
    let Some(state) = state.filter(|s| !s.is_empty()) else {
        return Err(AuthError::InvalidState);
    };
    let state_digest = crypto::sha256_hex(state.as_bytes());
    let pk = keys::oauth_state(&state_digest);
    let Some(flow) = app
        .store()
        .take_single_use::<OAuthStateItem>(&pk, keys::STATE, now)
        .await?
    else {
        return Err(AuthError::InvalidState);
    };
    if flow.provider != provider {
        return Err(AuthError::InvalidState);
    }
    let Ok(provider) = provider_of(app, provider) else {
        return Ok(Redirect::to(with_fragment(
            &flow.redirect_uri,
            &[("error", "provider_error"), ("provider", &flow.provider)],
        )));
    };
    let Some(expected) = &flow.browser_digest else {
        return finish(app, provider, answer, &flow, now)
            .await
            .map(Redirect::to);
    };
    let binding = BrowserBinding::new(app, provider, &state_digest)?;
    let held = cookie(cookies, &binding.name).map(|secret| crypto::sha256_hex(secret.as_bytes()));
    if held.as_deref() != Some(expected.as_str()) {
        // Spent all the same: it was seen outside the browser it belongs to.
        tracing::warn!(
            "a sign-in's callback came from another browser than the one that started it"
        );
        return Err(AuthError::InvalidState);
    }
    Ok(Redirect {
        location: finish(app, provider, answer, &flow, now).await?,
        set_cookie: Some(binding.cleared()),
    })
}

/// What the provider answered: a code, or an error.
struct Answer {
    code: Option<String>,
    error: Option<String>,
}

/// A callback whose flow is this browser's: the provider's answer checked, then the link or
/// the sign-in.
async fn finish(
    app: &impl Federates,
    provider: &ProviderConfig,
    params: Answer,
    flow: &OAuthStateItem,
    now: i64,
) -> Result<String, AuthError> {
    let back = |error: &str| {
        with_fragment(
            &flow.redirect_uri,
            &[("error", error), ("provider", &flow.provider)],
        )
    };
    if let Some(error) = params.error {
        tracing::info!(%error, "the provider answered an error");
        let code = if error == "access_denied" {
            "access_denied"
        } else {
            "provider_error"
        };
        return Ok(back(code));
    }
    let Some(code) = params.code.filter(|c| !c.is_empty()) else {
        return Ok(back("provider_error"));
    };
    let identity = match app
        .federation()
        .identify(
            provider,
            &callback_url(app, provider),
            &code,
            &flow.pkce_verifier,
            flow.nonce.as_deref(),
            now,
        )
        .await
    {
        Ok(identity) => identity,
        Err(failure) => {
            tracing::warn!(error = %failure, "a provider's callback was refused");
            return Ok(back(failure_code(&failure)));
        }
    };
    let claim = keys::identity(&identity.issuer, &identity.subject);
    if let Some(user_id) = &flow.link_user_id {
        return linked(app, provider, user_id, &claim, &flow.redirect_uri, now).await;
    }
    signed_in(app, provider, &identity, &claim, &flow.redirect_uri, now).await
}

/// The link flow's end: the identity joins the account that started it, unless another
/// account holds it.
async fn linked(
    app: &impl Base,
    provider: &ProviderConfig,
    user_id: &str,
    claim: &str,
    redirect_uri: &str,
    now: i64,
) -> Result<String, AuthError> {
    let back = |key: &str, value: &str| {
        with_fragment(redirect_uri, &[(key, value), ("provider", &provider.name)])
    };
    for _ in 0..crate::ops::MAX_ROUNDS {
        let Some(user) = live_account(app, user_id, now).await? else {
            return Ok(back("error", "provider_error"));
        };
        if user.providers.get(&provider.name).map(String::as_str) == Some(claim) {
            return Ok(back("linked", &provider.name));
        }
        if user.providers.contains_key(&provider.name) {
            return Ok(back("error", "provider_already_linked"));
        }
        match app
            .store()
            .link_identity(&user, &provider.name, claim, {
                let audit = Audit::event(audit::PROVIDER_LINKED).detail(&provider.name);
                vec![app.store().audited(&user.user_id, &audit, app.now_ms())?]
            })
            .await?
        {
            IdentityLinked::Linked => {
                tracing::info!(user_id, "provider linked");
                return Ok(back("linked", &provider.name));
            }
            IdentityLinked::Taken => {
                tracing::info!(user_id, "provider identity belongs to another account");
                return Ok(back("error", "identity_in_use"));
            }
            IdentityLinked::AccountChanged => continue,
        }
    }
    Err(AuthError::internal(
        "linking kept conflicting with concurrent writes",
    ))
}

/// The sign-in flow's end: the identity's account, or a new one; then a one-time code.
async fn signed_in(
    app: &impl Base,
    provider: &ProviderConfig,
    identity: &Identity,
    claim: &str,
    redirect_uri: &str,
    now: i64,
) -> Result<String, AuthError> {
    let back = |error: &str| {
        with_fragment(
            redirect_uri,
            &[("error", error), ("provider", &provider.name)],
        )
    };
    for _ in 0..crate::ops::MAX_ROUNDS {
        let owner: Option<ClaimItem> = app.store().get(claim, keys::CLAIM).await?;
        if let Some(owner) = owner {
            let Some(user) = live_account(app, &owner.user_id, now).await? else {
                return Ok(back("provider_error"));
            };
            return Ok(with_fragment(
                redirect_uri,
                &[("code", &sign_in_code(app, &user, now).await?)],
            ));
        }
        // A new identity makes an account only with an email the provider verified, and
        // only if no live account holds that email: never a merge.
        let Some(email) = identity
            .email
            .as_deref()
            .filter(|_| identity.email_verified)
        else {
            return Ok(back("email_not_verified"));
        };
        let Ok(email) = Identifier::from_pair(Some(email), None) else {
            return Ok(back("email_not_verified"));
        };
        let email_claim = keys::identifier(email.kind(), email.normalized());
        let user = new_account(provider, &email, claim, now, app.config().awaiting())?;
        match app
            .store()
            .create_federated_account(&user, &email_claim, claim, now)
            .await?
        {
            IdentityCreated::Created => {
                tracing::info!(user_id = %user.user_id, "account made by a provider's sign-in");
                return Ok(with_fragment(
                    redirect_uri,
                    &[("code", &sign_in_code(app, &user, now).await?)],
                ));
            }
            IdentityCreated::EmailTaken => return Ok(back("account_exists")),
            // Another callback made it first: sign in to that account.
            IdentityCreated::IdentityTaken => continue,
        }
    }
    Err(AuthError::internal("a provider's sign-in kept conflicting"))
}

/// A verified account with no password of its own, made for a provider's identity.
fn new_account(
    provider: &ProviderConfig,
    email: &Identifier,
    identity_claim: &str,
    now: i64,
    awaiting: Option<String>,
) -> Result<UserItem, AuthError> {
    let user_id = uuid::Uuid::new_v4().to_string();
    let hash = crypto::password::unusable_hash()?;
    Ok(UserItem {
        verified: true,
        providers: [(provider.name.clone(), identity_claim.to_owned())].into(),
        no_password: true,
        ..UserItem::new(&user_id, email, hash, now, awaiting)
    })
}

async fn live_account(
    app: &impl Base,
    user_id: &str,
    now: i64,
) -> Result<Option<UserItem>, AuthError> {
    let user: Option<UserItem> = app.store().get(&keys::user(user_id), keys::PROFILE).await?;
    Ok(user.filter(|u| u.is_live(now) && u.status == UserStatus::Active))
}

/// A one-time code for `POST /login/provider`: 256 random bits, stored by its SHA-256,
/// single use, 2 minutes.
async fn sign_in_code(app: &impl Base, user: &UserItem, now: i64) -> Result<String, AuthError> {
    let code = crypto::base64url(&crypto::random_array::<32>()?);
    let digest = crypto::sha256_hex(code.as_bytes());
    let item = CodeItem {
        pk: keys::provider_code(&digest),
        sk: keys::CODE.to_owned(),
        user_id: user.user_id.clone(),
        digest,
        created_at: now,
        expires_at: now + SIGN_IN_CODE_TTL_SECS,
        attempts: 0,
        used: false,
        tries: Vec::new(),
        identifier_key: None,
        amr: vec!["fed".to_owned()],
        ceremony: None,
    };
    if !app.store().insert(&item).await? {
        return Err(AuthError::internal("a new sign-in code was taken"));
    }
    Ok(code)
}

/// `POST /login/provider`: the callback's one-time code → a token pair (`amr: ["fed"]`),
/// or `mfa_required` for an account with a second factor. The caller's address takes a
/// failure try first, given back on success.
#[tracing::instrument(skip_all, fields(user_id))]
pub async fn login_provider(
    app: &impl Issues,
    request: ProviderCodeRequest,
) -> Result<TokenPair, AuthError> {
    let now = app.now();
    let failure = budgets::take_failure_try(app, &request.origin, now).await?;
    let digest = crypto::sha256_hex(request.code.trim().as_bytes());
    let Some(code) = app
        .store()
        .take_single_use::<CodeItem>(&keys::provider_code(&digest), keys::CODE, now)
        .await?
    else {
        return Err(AuthError::InvalidCode);
    };
    let Some(user) = live_account(app, &code.user_id, now).await? else {
        return Err(AuthError::InvalidCode);
    };
    tracing::Span::current().record("user_id", user.user_id.as_str());
    if user.is_disabled() {
        failure.succeeded(app).await?;
        return Err(crate::ops::disabled(&user));
    }
    let signed_in = SignedIn::federated(now);
    if user.has_second_factor() {
        failure.succeeded(app).await?;
        return Err(login::second_factor(app, &user, signed_in).await?);
    }
    let also: Vec<_> = failure.succeeded_with(app)?.into_iter().collect();
    session::start_checked(app, &user, &request.origin, signed_in, &also).await
}

/// `DELETE /me/providers/{provider}` (step-up): the identity no longer signs in here; refused
/// when it is the account's last way to sign in.
#[tracing::instrument(skip_all, fields(user_id = %caller.user.user_id, provider = %provider))]
pub async fn unlink(
    app: &impl Hashes,
    caller: &Caller,
    provider: &str,
    password: Option<String>,
) -> Result<(), AuthError> {
    step_up(app, caller, password).await?;
    for _ in 0..crate::ops::MAX_ROUNDS {
        let user = live_account(app, &caller.user.user_id, app.now())
            .await?
            .filter(|u| u.session_generation == caller.user.session_generation)
            .ok_or(AuthError::InvalidToken)?;
        let Some(claim) = user.providers.get(provider) else {
            return Err(AuthError::ProviderNotLinked);
        };
        if user.no_password && user.providers.len() == 1 && user.passkeys == 0 {
            return Err(AuthError::LastSignInMethod);
        }
        let audit = audit::by_caller(app, caller, audit::PROVIDER_UNLINKED, Some(provider))?;
        if app
            .store()
            .unlink_identity(&user, provider, claim, audit)
            .await?
        {
            tracing::info!("provider unlinked");
            return Ok(());
        }
        // The account changed meanwhile (a provider or passkey added or removed): look again.
    }
    Err(AuthError::internal(
        "unlinking kept conflicting with concurrent writes",
    ))
}
