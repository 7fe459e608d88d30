//! A provider that answers what a test tells it to, for the failures a real provider does not
//! produce on demand: an ID token for another audience, and GitHub's token endpoint and API
//! (its user id and emails). It signs its ID tokens RS256 with a key of its own, published at
//! its JWKS, so the service checks them exactly as it checks a real provider's. The happy
//! path runs against the real local provider (`tools/oidc-provider`).

use std::sync::{Arc, Mutex};

use auth_tools::loopback::{Handler, Request, Response, serve};
use serde_json::json;

/// What the next token answer says.
#[derive(Debug, Clone)]
pub struct Answers {
    /// The ID token's `aud` (the client id unless set otherwise).
    pub audience: Option<String>,
    /// The ID token's `nonce`: the one of the authorization URL the test read.
    pub nonce: String,
    /// GitHub: the user's primary email and whether GitHub verified it.
    pub email: String,
    pub email_verified: bool,
    /// The ID token's `sub` and GitHub's user id: new for each stub, since identities outlive
    /// a test run's accounts in a reused table.
    pub subject: String,
    pub github_id: u64,
}

pub struct StubProvider {
    pub url: String,
    answers: Arc<Mutex<Answers>>,
}

impl StubProvider {
    /// Serves discovery, keys and a token endpoint as an OpenID issuer for `client_id`, and
    /// GitHub's token endpoint and API, on a free loopback port.
    pub async fn start(client_id: &str) -> Self {
        let document = auth_tools::keys::new_secret("stub").expect("a key");
        let jwks = auth_tools::keys::public_jwks(&document).expect("its JWK set");
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(document.signing_keys["stub"].as_bytes())
            .expect("an RSA key");
        let answers = Arc::new(Mutex::new(Answers {
            audience: None,
            nonce: String::new(),
            email: "someone@example.com".into(),
            subject: format!("stub-user-{}", uuid::Uuid::new_v4().simple()),
            github_id: (uuid::Uuid::new_v4().as_u128() as u64) >> 12,
            email_verified: true,
        }));
        let url = Arc::new(Mutex::new(String::new()));
        let (shared_answers, shared_url, client_id) =
            (Arc::clone(&answers), Arc::clone(&url), client_id.to_owned());
        let handler: Handler = Arc::new(move |request: Request| {
            let issuer = shared_url.lock().unwrap().clone();
            let answers = shared_answers.lock().unwrap().clone();
            let response = answer(&request, &issuer, &client_id, &answers, &jwks, &key);
            Box::pin(async move { response })
        });
        let port = serve(handler).await.expect("the stub listens");
        let base = format!("http://127.0.0.1:{port}");
        *url.lock().unwrap() = base.clone();
        Self { url: base, answers }
    }

    /// Changes what the next answers say.
    pub fn answer_with(&self, change: impl FnOnce(&mut Answers)) {
        change(&mut self.answers.lock().unwrap());
    }

    /// What the next answers say.
    pub fn answers(&self) -> Answers {
        self.answers.lock().unwrap().clone()
    }
}

fn json_response(value: serde_json::Value) -> Response {
    Response::new(200, "application/json", value.to_string())
}

fn answer(
    request: &Request,
    issuer: &str,
    client_id: &str,
    answers: &Answers,
    jwks: &jsonwebtoken::jwk::JwkSet,
    key: &jsonwebtoken::EncodingKey,
) -> Response {
    let path = request.path.split('?').next().unwrap_or_default();
    match (request.method.as_str(), path) {
        ("GET", "/.well-known/openid-configuration") => json_response(json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/auth"),
            "token_endpoint": format!("{issuer}/token"),
            "jwks_uri": format!("{issuer}/jwks"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        })),
        ("GET", "/jwks") => json_response(serde_json::to_value(jwks).unwrap()),
        ("POST", "/token") => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs();
            let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
            header.kid = Some("stub".into());
            let claims = json!({
                "iss": issuer,
                "sub": answers.subject,
                "aud": answers.audience.as_deref().unwrap_or(client_id),
                "iat": now,
                "exp": now + 300,
                "nonce": answers.nonce,
                "email": answers.email,
                "email_verified": answers.email_verified,
            });
            let id_token = jsonwebtoken::encode(&header, &claims, key).unwrap();
            json_response(json!({
                "access_token": "stub-access-token",
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": id_token,
            }))
        }
        ("POST", "/login/oauth/access_token") => json_response(json!({
            "access_token": "stub-github-token",
            "token_type": "bearer",
            "scope": "read:user,user:email",
        })),
        ("GET", "/user") => json_response(json!({ "id": answers.github_id, "login": "octo" })),
        ("GET", "/user/emails") => json_response(json!([
            { "email": "old@example.com", "primary": false, "verified": true },
            { "email": answers.email, "primary": true, "verified": answers.email_verified },
        ])),
        _ => Response::new(404, "text/plain", "not found"),
    }
}
