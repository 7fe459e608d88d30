//! Other identity providers: their configuration (`OAUTH_PROVIDERS`, the frontend pages a
//! sign-in may return to in `OAUTH_REDIRECT_URIS`), their secrets (`AUTH_OAUTH_SECRET_ID`),
//! and the protocol work, which is the `openidconnect` and `oauth2` crates': discovery, the
//! authorization URL with `state`, `nonce` and PKCE S256, the code exchange and every ID-token
//! check (signature by the provider's published keys, `iss`, `aud`, `nonce`, `exp`). GitHub
//! speaks OAuth 2.0 without ID tokens: its user and verified emails come from its API.
//!
//! Kinds: `oidc` (any OpenID Connect issuer by discovery: Google is
//! `{"kind":"oidc","issuer":"https://accounts.google.com"}`), `apple` (OpenID Connect whose
//! client secret is a short-lived ES256 JWT signed with the team's key, and which posts its
//! answer as a form) and `github`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreTokenResponse,
};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
};
use serde::Deserialize;

use crate::AuthError;
use crate::app::Deferred;
use crate::error::StartupError;

/// How a provider is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    Oidc,
    Apple,
    Github,
}

/// One configured provider (`OAUTH_PROVIDERS` is a JSON array of these).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// The name in the routes (`/oauth/{name}/start`): lowercase letters, digits and `-`.
    pub name: String,
    pub kind: ProviderKind,
    /// The OpenID issuer (discovery at `<issuer>/.well-known/openid-configuration`); Apple's
    /// by default for `apple`, none for `github`.
    #[serde(default)]
    pub issuer: Option<String>,
    pub client_id: String,
    /// Scopes asked for; by default `openid email profile` (OpenID) or `read:user user:email`
    /// (GitHub; Apple: `openid email name`).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Apple: the team id and the id of the key (in the secret) that signs the client secret.
    #[serde(default)]
    pub team_id: Option<String>,
    #[serde(default)]
    pub key_id: Option<String>,
}

const APPLE_ISSUER: &str = "https://appleid.apple.com";
/// GitHub's own endpoints; tests point `api_url`/`web_url` elsewhere.
const GITHUB_WEB: &str = "https://github.com";
const GITHUB_API: &str = "https://api.github.com";
/// The `iss` recorded for GitHub identities (it has no OpenID issuer).
pub const GITHUB_ISSUER: &str = "https://github.com";

impl ProviderConfig {
    pub fn issuer(&self) -> Option<&str> {
        match self.kind {
            ProviderKind::Apple => Some(self.issuer.as_deref().unwrap_or(APPLE_ISSUER)),
            _ => self.issuer.as_deref(),
        }
    }

    fn scopes(&self) -> Vec<String> {
        if !self.scopes.is_empty() {
            return self.scopes.clone();
        }
        let defaults: &[&str] = match self.kind {
            ProviderKind::Oidc => &["openid", "email", "profile"],
            ProviderKind::Apple => &["openid", "email", "name"],
            ProviderKind::Github => &["read:user", "user:email"],
        };
        defaults.iter().map(|s| (*s).to_owned()).collect()
    }
}

/// The configured providers and where a sign-in may return to.
#[derive(Debug, Clone, Default)]
pub struct Providers {
    pub list: Vec<ProviderConfig>,
    /// Frontend pages a flow may return to, matched exactly.
    pub redirect_uris: Vec<String>,
}

impl Providers {
    /// From `OAUTH_PROVIDERS` (JSON) and `OAUTH_REDIRECT_URIS` (comma-separated).
    pub fn parse(providers: Option<&str>, redirect_uris: Option<&str>) -> Result<Self, String> {
        let list: Vec<ProviderConfig> = match providers.map(str::trim) {
            None | Some("") => Vec::new(),
            Some(json) => {
                serde_json::from_str(json).map_err(|e| format!("OAUTH_PROVIDERS: {e}"))?
            }
        };
        for (i, provider) in list.iter().enumerate() {
            let name_ok = !provider.name.is_empty()
                && provider.name.len() <= 32
                && provider
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !name_ok {
                return Err(format!(
                    "OAUTH_PROVIDERS: provider {i}'s name must be 1 to 32 lowercase letters, digits or -"
                ));
            }
            if list[..i].iter().any(|p| p.name == provider.name) {
                return Err(format!("OAUTH_PROVIDERS: {} is named twice", provider.name));
            }
            match provider.kind {
                ProviderKind::Oidc if provider.issuer.is_none() => {
                    return Err(format!(
                        "OAUTH_PROVIDERS: {} needs an issuer",
                        provider.name
                    ));
                }
                ProviderKind::Apple if provider.team_id.is_none() || provider.key_id.is_none() => {
                    return Err(format!(
                        "OAUTH_PROVIDERS: {} (apple) needs team_id and key_id",
                        provider.name
                    ));
                }
                _ => {}
            }
        }
        let redirect_uris: Vec<String> = redirect_uris
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(str::to_owned)
            .collect();
        for uri in &redirect_uris {
            let parsed = openidconnect::url::Url::parse(uri)
                .map_err(|e| format!("OAUTH_REDIRECT_URIS: {uri}: {e}"))?;
            if parsed.fragment().is_some() {
                return Err(format!(
                    "OAUTH_REDIRECT_URIS: {uri} has a fragment; the sign-in code goes there"
                ));
            }
        }
        if !list.is_empty() && redirect_uris.is_empty() {
            return Err(
                "OAUTH_REDIRECT_URIS is empty: a sign-in would have nowhere to return".into(),
            );
        }
        Ok(Self {
            list,
            redirect_uris,
        })
    }

    pub fn get(&self, name: &str) -> Option<&ProviderConfig> {
        self.list.iter().find(|p| p.name == name)
    }

    /// Whether `uri` is one of the configured frontend pages, exactly.
    pub fn allows_redirect(&self, uri: &str) -> bool {
        self.redirect_uris.iter().any(|u| u == uri)
    }
}

/// A provider's secret: an OAuth client secret, or (Apple) the PKCS#8 PEM of the key that
/// signs the client secret.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSecret {
    #[serde(default)]
    pub client_secret: Option<String>,
    #[serde(default)]
    pub private_key: Option<String>,
}

/// Every provider's secret, by name.
pub type ProviderSecrets = BTreeMap<String, ProviderSecret>;

/// The identity a provider vouched for.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The issuer and subject: together, the identity (claimed like an identifier).
    pub issuer: String,
    pub subject: String,
    /// The email the provider says the user has, and whether it says it verified it.
    pub email: Option<String>,
    pub email_verified: bool,
}

/// Why a provider's leg of a flow failed; answered to the frontend as an error code in the
/// fragment, never as a 5xx page.
#[derive(Debug, thiserror::Error)]
pub enum ProviderFailure {
    /// The provider could not be reached, or answered garbage (`provider_unavailable`).
    #[error("the provider could not be reached: {0}")]
    Unavailable(String),
    /// The provider refused, or what it answered did not verify (`provider_error`).
    #[error("the provider's answer was refused: {0}")]
    Refused(String),
}

/// A started flow: where to send the browser, and what to keep until it comes back.
#[derive(Debug)]
pub struct Authorization {
    pub url: String,
    pub state: String,
    pub nonce: Option<String>,
    pub pkce_verifier: String,
}

/// What a function that federates holds: an HTTP client that follows no redirect (a
/// provider's answer is read, never chased), the secrets (fetched in the background at
/// cold start), and each provider's discovery document, kept for ten minutes.
pub struct Federation {
    http: reqwest::Client,
    secrets: Deferred<Arc<ProviderSecrets>>,
    discovered: tokio::sync::Mutex<HashMap<String, (Instant, CoreProviderMetadata)>>,
    github_web: String,
    github_api: String,
}

/// How long a discovery document (and the keys it names) is reused.
const DISCOVERY_TTL: Duration = Duration::from_secs(600);

impl Federation {
    pub fn new(secrets: Deferred<Arc<ProviderSecrets>>) -> Result<Self, StartupError> {
        Self::with_github(secrets, GITHUB_WEB, GITHUB_API)
    }

    /// For a function that only starts flows: the authorization URL needs no secret, so it
    /// fetches none (and its policy grants none).
    pub fn without_secrets() -> Result<Self, StartupError> {
        Self::new(Deferred::ready(Arc::new(ProviderSecrets::new())))
    }

    /// With GitHub's web and API origins elsewhere (tests).
    pub fn with_github(
        secrets: Deferred<Arc<ProviderSecrets>>,
        github_web: &str,
        github_api: &str,
    ) -> Result<Self, StartupError> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(5))
            .user_agent("auth-service")
            .build()
            .map_err(|e| StartupError::Config(format!("the providers' HTTP client: {e}")))?;
        Ok(Self {
            http,
            secrets,
            discovered: tokio::sync::Mutex::new(HashMap::new()),
            github_web: github_web.trim_end_matches('/').to_owned(),
            github_api: github_api.trim_end_matches('/').to_owned(),
        })
    }

    async fn secret(&self, provider: &ProviderConfig) -> Result<ProviderSecret, AuthError> {
        self.secrets
            .get()
            .await?
            .get(&provider.name)
            .cloned()
            .ok_or_else(|| {
                AuthError::internal(format!(
                    "the OAuth secret has no entry for {}",
                    provider.name
                ))
            })
    }

    /// The client secret to present: the configured one, or Apple's signed JWT.
    async fn client_secret(
        &self,
        provider: &ProviderConfig,
        now: i64,
    ) -> Result<ClientSecret, AuthError> {
        let secret = self.secret(provider).await?;
        if provider.kind == ProviderKind::Apple {
            let key = secret.private_key.ok_or_else(|| {
                AuthError::internal(format!("{}: the secret has no private_key", provider.name))
            })?;
            return apple_client_secret(provider, &key, now).map(ClientSecret::new);
        }
        secret.client_secret.map(ClientSecret::new).ok_or_else(|| {
            AuthError::internal(format!(
                "{}: the secret has no client_secret",
                provider.name
            ))
        })
    }

    async fn metadata(
        &self,
        provider: &ProviderConfig,
    ) -> Result<CoreProviderMetadata, ProviderFailure> {
        let issuer = provider
            .issuer()
            .ok_or_else(|| ProviderFailure::Refused("no issuer".into()))?;
        let mut cache = self.discovered.lock().await;
        if let Some((at, metadata)) = cache.get(&provider.name)
            && at.elapsed() < DISCOVERY_TTL
        {
            return Ok(metadata.clone());
        }
        let issuer = IssuerUrl::new(issuer.to_owned())
            .map_err(|e| ProviderFailure::Refused(format!("issuer: {e}")))?;
        let http = self.http.clone();
        let metadata =
            CoreProviderMetadata::discover_async(issuer, &move |r| send(http.clone(), r))
                .await
                .map_err(|e| ProviderFailure::Unavailable(format!("discovery: {}", chain(&e))))?;
        cache.insert(provider.name.clone(), (Instant::now(), metadata.clone()));
        Ok(metadata)
    }

    /// The URL that starts a sign-in at `provider`, returning to `callback`.
    pub async fn authorize(
        &self,
        provider: &ProviderConfig,
        callback: &str,
    ) -> Result<Authorization, ProviderFailure> {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let redirect = RedirectUrl::new(callback.to_owned())
            .map_err(|e| ProviderFailure::Refused(format!("callback URL: {e}")))?;
        if provider.kind == ProviderKind::Github {
            let client =
                oauth2::basic::BasicClient::new(oauth2::ClientId::new(provider.client_id.clone()))
                    .set_auth_uri(github_url(&self.github_web, "/login/oauth/authorize")?)
                    .set_redirect_uri(redirect);
            let (url, state) = client
                .authorize_url(CsrfToken::new_random)
                .add_scopes(provider.scopes().into_iter().map(Scope::new))
                .set_pkce_challenge(challenge)
                .url();
            return Ok(Authorization {
                url: url.to_string(),
                state: state.secret().clone(),
                nonce: None,
                pkce_verifier: verifier.secret().clone(),
            });
        }
        let metadata = self.metadata(provider).await?;
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(provider.client_id.clone()),
            None,
        )
        .set_redirect_uri(redirect);
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scopes(
                provider
                    .scopes()
                    .into_iter()
                    .filter(|s| s != "openid")
                    .map(Scope::new),
            )
            .set_pkce_challenge(challenge);
        if provider.kind == ProviderKind::Apple {
            // Apple sends the name and email scopes' answer only to a form post.
            request = request.add_extra_param("response_mode", "form_post");
        }
        let (url, state, nonce) = request.url();
        Ok(Authorization {
            url: url.to_string(),
            state: state.secret().clone(),
            nonce: Some(nonce.secret().clone()),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// Exchanges the callback's `code` (with the flow's PKCE verifier) and answers the
    /// identity: from the verified ID token (its nonce the flow's), or GitHub's API.
    pub async fn identify(
        &self,
        provider: &ProviderConfig,
        callback: &str,
        code: &str,
        pkce_verifier: &str,
        nonce: Option<&str>,
        now: i64,
    ) -> Result<Identity, ProviderFailure> {
        let redirect = RedirectUrl::new(callback.to_owned())
            .map_err(|e| ProviderFailure::Refused(format!("callback URL: {e}")))?;
        let secret = self
            .client_secret(provider, now)
            .await
            .map_err(|e| ProviderFailure::Unavailable(e.to_string()))?;
        let http = self.http.clone();
        let send_with = move |r| send(http.clone(), r);
        if provider.kind == ProviderKind::Github {
            let client =
                oauth2::basic::BasicClient::new(oauth2::ClientId::new(provider.client_id.clone()))
                    .set_client_secret(secret)
                    .set_auth_uri(github_url(&self.github_web, "/login/oauth/authorize")?)
                    .set_token_uri(
                        oauth2::TokenUrl::new(format!(
                            "{}/login/oauth/access_token",
                            self.github_web
                        ))
                        .map_err(|e| ProviderFailure::Refused(format!("GitHub URL: {e}")))?,
                    )
                    .set_redirect_uri(redirect);
            let token = client
                .exchange_code(AuthorizationCode::new(code.to_owned()))
                .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
                .request_async(&send_with)
                .await
                .map_err(|e| ProviderFailure::Refused(format!("code exchange: {}", chain(&e))))?;
            return self.github_identity(token.access_token().secret()).await;
        }
        let metadata = self.metadata(provider).await?;
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(provider.client_id.clone()),
            Some(secret),
        )
        .set_redirect_uri(redirect);
        let token: CoreTokenResponse = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| ProviderFailure::Refused(format!("token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .request_async(&send_with)
            .await
            .map_err(|e| match &e {
                oauth2::RequestTokenError::Request(_) => {
                    ProviderFailure::Unavailable(format!("code exchange: {}", chain(&e)))
                }
                _ => ProviderFailure::Refused(format!("code exchange: {}", chain(&e))),
            })?;
        let id_token = openidconnect::TokenResponse::id_token(&token)
            .ok_or_else(|| ProviderFailure::Refused("no ID token".into()))?;
        let expected = Nonce::new(nonce.unwrap_or_default().to_owned());
        let claims = id_token
            .claims(&client.id_token_verifier(), &expected)
            .map_err(|e| ProviderFailure::Refused(format!("ID token: {}", chain(&e))))?;
        Ok(Identity {
            issuer: claims.issuer().as_str().to_owned(),
            subject: claims.subject().as_str().to_owned(),
            email: claims.email().map(|e| e.as_str().to_owned()),
            email_verified: claims.email_verified().unwrap_or(false),
        })
    }

    /// GitHub's user id and its primary verified email, from its API.
    async fn github_identity(&self, access_token: &str) -> Result<Identity, ProviderFailure> {
        #[derive(Deserialize)]
        struct User {
            id: u64,
        }
        #[derive(Deserialize)]
        struct Email {
            email: String,
            primary: bool,
            verified: bool,
        }
        let get = |path: &str| {
            self.http
                .get(format!("{}{path}", self.github_api))
                .bearer_auth(access_token)
                .header("accept", "application/vnd.github+json")
                .send()
        };
        let unavailable =
            |e: reqwest::Error| ProviderFailure::Unavailable(format!("GitHub API: {e}"));
        let user: User = get("/user")
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(unavailable)?
            .json()
            .await
            .map_err(|e| ProviderFailure::Refused(format!("GitHub user: {e}")))?;
        let emails: Vec<Email> = get("/user/emails")
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(unavailable)?
            .json()
            .await
            .map_err(|e| ProviderFailure::Refused(format!("GitHub emails: {e}")))?;
        let primary = emails.into_iter().find(|e| e.primary && e.verified);
        Ok(Identity {
            issuer: GITHUB_ISSUER.to_owned(),
            subject: user.id.to_string(),
            email_verified: primary.is_some(),
            email: primary.map(|e| e.email),
        })
    }
}

fn github_url(base: &str, path: &str) -> Result<oauth2::AuthUrl, ProviderFailure> {
    oauth2::AuthUrl::new(format!("{base}{path}"))
        .map_err(|e| ProviderFailure::Refused(format!("GitHub URL: {e}")))
}

/// Apple's client secret: an ES256 JWT from the team to Apple about this client, signed with
/// the team's key; valid for 5 minutes (Apple allows up to 6 months; a short one is made
/// for each exchange).
pub fn apple_client_secret(
    provider: &ProviderConfig,
    private_key_pem: &str,
    now: i64,
) -> Result<String, AuthError> {
    #[derive(serde::Serialize)]
    struct Claims<'a> {
        iss: &'a str,
        iat: i64,
        exp: i64,
        aud: &'a str,
        sub: &'a str,
    }
    let (Some(team), Some(kid)) = (&provider.team_id, &provider.key_id) else {
        return Err(AuthError::internal("apple needs team_id and key_id"));
    };
    let key = jsonwebtoken::EncodingKey::from_ec_pem(private_key_pem.as_bytes())
        .map_err(|_| AuthError::internal("the Apple key is not an EC private key in PEM"))?;
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(kid.clone());
    jsonwebtoken::encode(
        &header,
        &Claims {
            iss: team,
            iat: now,
            exp: now + 300,
            aud: provider.issuer().unwrap_or(APPLE_ISSUER),
            sub: &provider.client_id,
        },
        &key,
    )
    .map_err(AuthError::internal)
}

/// An HTTP failure, for the protocol crates.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpFailure(String);

/// One HTTP exchange for the protocol crates, through reqwest.
async fn send(
    http: reqwest::Client,
    request: openidconnect::HttpRequest,
) -> Result<openidconnect::HttpResponse, HttpFailure> {
    let (parts, body) = request.into_parts();
    let response = http
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .send()
        .await
        .map_err(|e| HttpFailure(e.to_string()))?;
    let mut answer = http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        answer = answer.header(name, value);
    }
    let body = response
        .bytes()
        .await
        .map_err(|e| HttpFailure(e.to_string()))?;
    answer
        .body(body.to_vec())
        .map_err(|e| HttpFailure(e.to_string()))
}

fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    crate::error::chain(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn providers_are_checked_when_read() {
        let ok = Providers::parse(
            Some(r#"[{"name":"google","kind":"oidc","issuer":"https://accounts.google.com","client_id":"c"},
                     {"name":"github","kind":"github","client_id":"g"}]"#),
            Some("https://app.example.com/signin, https://app.example.com/account"),
        )
        .unwrap();
        assert_eq!(ok.list.len(), 2);
        assert!(ok.allows_redirect("https://app.example.com/signin"));
        assert!(!ok.allows_redirect("https://app.example.com/signin/"));
        assert!(!ok.allows_redirect("https://evil.example/signin"));
        assert_eq!(
            ok.get("github").unwrap().scopes(),
            ["read:user", "user:email"]
        );
        assert!(Providers::parse(None, None).unwrap().list.is_empty());
        for bad in [
            r#"[{"name":"Google","kind":"oidc","issuer":"https://a","client_id":"c"}]"#,
            r#"[{"name":"x","kind":"oidc","client_id":"c"}]"#,
            r#"[{"name":"x","kind":"apple","client_id":"c"}]"#,
            r#"[{"name":"x","kind":"saml","client_id":"c"}]"#,
            r#"[{"name":"x","kind":"github","client_id":"c"},{"name":"x","kind":"github","client_id":"d"}]"#,
        ] {
            assert!(
                Providers::parse(Some(bad), Some("https://a/b")).is_err(),
                "{bad}"
            );
        }
        let one = r#"[{"name":"x","kind":"github","client_id":"c"}]"#;
        assert!(
            Providers::parse(Some(one), None).is_err(),
            "nowhere to return"
        );
        assert!(Providers::parse(Some(one), Some("https://a/b#x")).is_err());
    }

    #[test]
    fn apple_s_client_secret_is_a_jwt_signed_by_the_team_s_key() {
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
        use base64::Engine;
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            base64::engine::general_purpose::STANDARD.encode(pkcs8.as_ref())
        );
        let provider: ProviderConfig = serde_json::from_str(
            r#"{"name":"apple","kind":"apple","client_id":"com.example.web","team_id":"TEAM123","key_id":"KEY456"}"#,
        )
        .unwrap();
        let jwt = apple_client_secret(&provider, &pem, 1_800_000_000).unwrap();
        let header = jsonwebtoken::decode_header(&jwt).unwrap();
        assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
        assert_eq!(header.kid.as_deref(), Some("KEY456"));
        let public = pair.public_key().as_ref();
        let key = jsonwebtoken::DecodingKey::from_ec_der(public);
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
        validation.set_audience(&["https://appleid.apple.com"]);
        validation.validate_exp = false;
        let claims = jsonwebtoken::decode::<serde_json::Value>(&jwt, &key, &validation)
            .unwrap()
            .claims;
        assert_eq!(claims["iss"], "TEAM123");
        assert_eq!(claims["sub"], "com.example.web");
        assert_eq!(claims["exp"], 1_800_000_300);
    }
}
