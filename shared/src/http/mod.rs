//! The HTTP edge: body limits, content types and JSON parsing on the way in, and the ONE
//! mapping from [`AuthError`] to a status and an RFC 9457 problem document on the way out.

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use std::future::Future;
use std::sync::Arc;

use crate::AuthError;
use crate::ops::App;

/// Runs an HTTP Lambda: JSON logs, configuration, secret and clients once per cold start,
/// then every request through `handle`.
pub async fn serve<F, Fut>(handle: F) -> Result<(), lambda_http::Error>
where
    F: Fn(Arc<App>, Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response<Body>> + Send + 'static,
{
    crate::telemetry::init();
    let app = Arc::new(App::from_env().await?);
    lambda_http::run(lambda_http::service_fn(move |request: Request| {
        let route = route_key(&request);
        let response = handle(Arc::clone(&app), request);
        async move {
            let started = std::time::Instant::now();
            let response = response.await;
            // The route key, never the raw path: a path may carry a confirmation code.
            tracing::debug!(
                route,
                status = response.status().as_u16(),
                micros = started.elapsed().as_micros() as u64,
                "request served"
            );
            Ok::<_, lambda_http::Error>(response)
        }
    }))
    .await
}

/// The caller as API Gateway saw it: `requestContext.http.sourceIp` and the user agent.
pub fn origin(request: &Request) -> crate::ops::budgets::Origin {
    let (ip, agent) = match request.request_context_ref() {
        Some(lambda_http::request::RequestContext::ApiGatewayV2(context)) => (
            context.http.source_ip.clone(),
            context.http.user_agent.clone(),
        ),
        _ => (None, None),
    };
    // The header as the client sent it (API Gateway copies the same into the context;
    // local emulators put their own name there).
    let user_agent = request
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or(agent);
    crate::ops::budgets::Origin {
        ip: ip.filter(|ip| !ip.is_empty()),
        // Bounded: it is stored with sessions and shown back to the user.
        user_agent: user_agent.map(|a| a.chars().take(256).collect()),
    }
}

/// `METHOD /route/{param}` as API Gateway names the route, without parameter values.
fn route_key(request: &Request) -> String {
    match request.request_context_ref() {
        Some(lambda_http::request::RequestContext::ApiGatewayV2(context)) => {
            context.route_key.clone().unwrap_or_default()
        }
        _ => String::new(),
    }
}

/// Largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// Parses a required JSON body.
pub fn json_body<T: DeserializeOwned>(request: &Request) -> Result<T, AuthError> {
    optional_json_body(request)?
        .ok_or_else(|| AuthError::InvalidRequest("a JSON body is required".to_owned()))
}

/// Parses a JSON body when there is one; an empty body is `None`.
pub fn optional_json_body<T: DeserializeOwned>(request: &Request) -> Result<Option<T>, AuthError> {
    let bytes = body_bytes(request)?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    if !has_media_type(request, "application/json") {
        return Err(AuthError::UnsupportedMediaType);
    }
    serde_json::from_slice(bytes)
        .map(Some)
        .map_err(|e| AuthError::InvalidRequest(format!("malformed JSON body: {e}")))
}

/// Whether the body is an `application/x-www-form-urlencoded` one (the OAuth 2.0 form).
pub fn is_form(request: &Request) -> bool {
    has_media_type(request, "application/x-www-form-urlencoded")
}

/// Parses a JSON body, or an `application/x-www-form-urlencoded` one (the OAuth 2.0 form).
pub fn json_or_form_body<T: DeserializeOwned>(request: &Request) -> Result<T, AuthError> {
    let bytes = body_bytes(request)?;
    if is_form(request) {
        return serde_urlencoded::from_bytes(bytes)
            .map_err(|e| AuthError::InvalidRequest(format!("malformed form body: {e}")));
    }
    json_body(request)
}

fn body_bytes(request: &Request) -> Result<&[u8], AuthError> {
    let bytes: &[u8] = match request.body() {
        Body::Empty => &[],
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => &[],
    };
    if bytes.len() > MAX_BODY_BYTES {
        return Err(AuthError::PayloadTooLarge {
            limit: MAX_BODY_BYTES,
        });
    }
    Ok(bytes)
}

/// Whether the request's `Content-Type` is `media`, with or without parameters such as
/// `charset=utf-8`.
fn has_media_type(request: &Request, media: &str) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case(media))
}

/// A path parameter, falling back to the last path segment (the same value) when the
/// request did not come through a router that names parameters.
pub fn path_param(request: &Request, name: &str) -> String {
    if let Some(value) = request.path_parameters_ref().and_then(|p| p.first(name)) {
        return value.to_owned();
    }
    request
        .uri()
        .path()
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// A `200 OK` JSON response.
pub fn ok<T: Serialize>(value: &T) -> Response<Body> {
    json_response(StatusCode::OK, value, "application/json")
}

/// A `202 Accepted` JSON response.
pub fn accepted<T: Serialize>(value: &T) -> Response<Body> {
    json_response(StatusCode::ACCEPTED, value, "application/json")
}

/// The access token of `Authorization: Bearer <token>` (RFC 6750 §2.1; the scheme is
/// case-insensitive); `None` when the header is missing or has another scheme.
pub fn bearer_token(request: &Request) -> Option<&str> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// `204 No Content`.
pub fn no_content() -> Response<Body> {
    empty(StatusCode::NO_CONTENT)
}

/// A response without a body, never cached.
pub fn empty(status: StatusCode) -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A `200 OK` JSON response that caches and proxies may keep for `max_age_secs`.
pub fn cacheable<T: Serialize>(value: &T, max_age_secs: u32) -> Response<Body> {
    let mut response = ok(value);
    let cache = format!("public, max-age={max_age_secs}");
    if let Ok(value) = HeaderValue::from_str(&cache) {
        response.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    response
}

/// Turns an operation's outcome into the response API Gateway relays. Every failure
/// becomes a response here; the handler never returns `Err` for a request it understood.
pub fn respond(result: Result<Response<Body>, AuthError>) -> Response<Body> {
    result.unwrap_or_else(|err| problem(&err))
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    code: &'a str,
    detail: String,
    #[serde(flatten)]
    extra: serde_json::Map<String, serde_json::Value>,
}

/// Like [`respond`], for the OAuth endpoints (`/token`, `/logout`): OAuth client libraries
/// accept only `application/json` there, so errors are `application/json` with RFC 6749
/// §5.2's `error` and `error_description` beside the problem members.
pub fn respond_oauth(result: Result<Response<Body>, AuthError>) -> Response<Body> {
    result.unwrap_or_else(|err| problem_document(&err, Flavour::OAuth))
}

/// The problem document for an error. 5xx bodies say nothing about the cause, which is
/// logged instead.
pub fn problem(err: &AuthError) -> Response<Body> {
    problem_document(err, Flavour::Problem)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Flavour {
    /// RFC 9457, `application/problem+json`.
    Problem,
    /// The same members plus RFC 6749's `error` and `error_description`, as
    /// `application/json`.
    OAuth,
}

fn problem_document(err: &AuthError, flavour: Flavour) -> Response<Body> {
    let (status, title) = status_and_title(err);
    let detail = match err {
        AuthError::Internal(source) => {
            tracing::error!(error = %source, cause = ?std::error::Error::source(&**source), "internal error");
            "The service could not complete the request. Try again later.".to_owned()
        }
        AuthError::DeliveryFailed(source) => {
            tracing::warn!(error = %source, "delivery failed");
            err.to_string()
        }
        _ => err.to_string(),
    };
    let code = err.code();
    let mut extra = serde_json::Map::new();
    if let AuthError::VerificationRequired {
        challenge_id,
        channel,
    } = err
    {
        extra.insert("challenge_id".into(), challenge_id.as_str().into());
        extra.insert(
            "channel".into(),
            serde_json::to_value(channel).unwrap_or_default(),
        );
    }
    let content_type = match flavour {
        Flavour::Problem => PROBLEM_JSON,
        Flavour::OAuth => {
            let oauth_error = match err {
                AuthError::InvalidGrant => "invalid_grant",
                AuthError::UnsupportedGrantType => "unsupported_grant_type",
                AuthError::Internal(_) => "server_error",
                _ => "invalid_request",
            };
            extra.insert("error".into(), oauth_error.into());
            extra.insert("error_description".into(), detail.clone().into());
            "application/json"
        }
    };
    let body = Problem {
        kind: format!(
            "https://auth-service.dev/problems/{}",
            code.replace('_', "-")
        ),
        title,
        status: status.as_u16(),
        code,
        detail,
        extra,
    };
    let mut response = json_response(status, &body, content_type);
    // A page on another origin may read these two (the deployed API's CORS configuration
    // says the same; local emulators pass this through).
    response.headers_mut().insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("Retry-After, WWW-Authenticate"),
    );
    match err {
        AuthError::RateLimited { retry_after } => {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(retry_after.max(&1).to_owned()),
            );
        }
        // RFC 6750 §3: the scheme, and why the token was refused.
        AuthError::InvalidToken => {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Bearer error="invalid_token""#),
            );
        }
        _ => {}
    }
    response
}

fn status_and_title(err: &AuthError) -> (StatusCode, &'static str) {
    match err {
        AuthError::InvalidRequest(_) => (StatusCode::BAD_REQUEST, "Invalid request"),
        AuthError::InvalidEmail => (StatusCode::BAD_REQUEST, "Invalid email address"),
        AuthError::InvalidPhone => (StatusCode::BAD_REQUEST, "Invalid phone number"),
        AuthError::PasswordMismatch => (StatusCode::BAD_REQUEST, "Passwords do not match"),
        AuthError::WeakPassword => (StatusCode::BAD_REQUEST, "Weak password"),
        AuthError::UserExists => (StatusCode::BAD_REQUEST, "User already exists"),
        AuthError::DeliveryFailed(_) => (StatusCode::BAD_REQUEST, "Code delivery failed"),
        AuthError::InvalidCode => (StatusCode::BAD_REQUEST, "Invalid code"),
        AuthError::AlreadyVerified => (StatusCode::BAD_REQUEST, "Already verified"),
        AuthError::TooManyAttempts => (StatusCode::BAD_REQUEST, "Too many attempts"),
        AuthError::UserNotFound => (StatusCode::BAD_REQUEST, "User not found"),
        AuthError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "Too many requests"),
        AuthError::InvalidCredentials => (StatusCode::UNAUTHORIZED, "Invalid credentials"),
        AuthError::VerificationRequired { .. } => (StatusCode::FORBIDDEN, "Verification required"),
        AuthError::InvalidGrant => (StatusCode::BAD_REQUEST, "Invalid grant"),
        AuthError::UnsupportedGrantType => (StatusCode::BAD_REQUEST, "Unsupported grant type"),
        AuthError::InvalidToken => (StatusCode::UNAUTHORIZED, "Invalid access token"),
        AuthError::SessionNotFound => (StatusCode::NOT_FOUND, "Session not found"),
        AuthError::PayloadTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "Payload too large"),
        AuthError::UnsupportedMediaType => {
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, "Unsupported media type")
        }
        AuthError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "Internal error"),
    }
}

fn json_response<T: Serialize>(
    status: StatusCode,
    value: &T,
    content_type: &'static str,
) -> Response<Body> {
    let body = serde_json::to_string(value).unwrap_or_else(|_| "{}".to_owned());
    let mut response = Response::new(Body::Text(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body1 {
        #[allow(dead_code)]
        email: String,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Optional {
        #[serde(default, deserialize_with = "crate::domain::present")]
        email: Option<String>,
    }

    #[test]
    fn an_optional_member_may_be_absent_but_not_null() {
        let parse = |body: &str| json_body::<Optional>(&request(Some("application/json"), body));
        assert_eq!(parse("{}").unwrap().email, None);
        assert_eq!(
            parse(r#"{"email":"a"}"#).unwrap().email.as_deref(),
            Some("a")
        );
        assert_eq!(
            parse(r#"{"email":null}"#).unwrap_err().code(),
            "invalid_request"
        );
    }

    fn request(content_type: Option<&str>, body: &str) -> Request {
        let mut builder = lambda_http::http::Request::builder()
            .method("POST")
            .uri("/registration");
        if let Some(ct) = content_type {
            builder = builder.header("content-type", ct);
        }
        builder.body(Body::Text(body.to_owned())).unwrap()
    }

    fn code_of(result: Result<Body1, AuthError>) -> &'static str {
        result.unwrap_err().code()
    }

    #[test]
    fn body_rules() {
        assert!(json_body::<Body1>(&request(Some("application/json"), r#"{"email":"a"}"#)).is_ok());
        assert!(
            json_body::<Body1>(&request(
                Some("Application/JSON; charset=utf-8"),
                r#"{"email":"a"}"#
            ))
            .is_ok()
        );
        assert_eq!(
            code_of(json_body(&request(Some("text/plain"), r#"{"email":"a"}"#))),
            "unsupported_media_type"
        );
        assert_eq!(
            code_of(json_body(&request(None, r#"{"email":"a"}"#))),
            "unsupported_media_type"
        );
        assert_eq!(
            code_of(json_body(&request(Some("application/json"), "{"))),
            "invalid_request"
        );
        assert_eq!(
            code_of(json_body(&request(
                Some("application/json"),
                r#"{"email":1}"#
            ))),
            "invalid_request"
        );
        assert_eq!(
            code_of(json_body(&request(
                Some("application/json"),
                r#"{"email":"a","x":1}"#
            ))),
            "invalid_request"
        );
        assert_eq!(
            code_of(json_body(&request(Some("application/json"), ""))),
            "invalid_request"
        );
        // Bytes that are not UTF-8 (API Gateway passes them base64-encoded) are malformed JSON.
        let mut binary = request(Some("application/json"), "");
        *binary.body_mut() = Body::Binary(b"\xff\xfe{".to_vec());
        assert_eq!(code_of(json_body(&binary)), "invalid_request");
        let big = format!(r#"{{"email":"{}"}}"#, "a".repeat(MAX_BODY_BYTES));
        assert_eq!(
            code_of(json_body(&request(Some("application/json"), &big))),
            "payload_too_large"
        );
    }

    #[test]
    fn problems_carry_status_code_and_retry_after() {
        let response = problem(&AuthError::RateLimited { retry_after: 42 });
        assert_eq!(response.status(), 429);
        assert_eq!(response.headers()["retry-after"], "42");
        assert_eq!(
            response.headers()["access-control-expose-headers"],
            "Retry-After, WWW-Authenticate"
        );
        assert_eq!(response.headers()["content-type"], PROBLEM_JSON);
        let Body::Text(text) = response.body() else {
            panic!("text body")
        };
        let json: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(json["code"], "rate_limited");
        assert_eq!(json["status"], 429);
    }

    #[test]
    fn oauth_errors_are_plain_json_with_error_and_description() {
        let response = respond_oauth(Err(AuthError::InvalidGrant));
        assert_eq!(response.status(), 400);
        assert_eq!(response.headers()["content-type"], "application/json");
        let Body::Text(text) = response.body() else {
            panic!("text body")
        };
        let json: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(json["error"], "invalid_grant");
        assert!(json["error_description"].is_string());
        assert_eq!(json["code"], "invalid_grant");
        assert_eq!(json["status"], 400);
        let internal = respond_oauth(Err(AuthError::internal("table t missing")));
        let Body::Text(text) = internal.body() else {
            panic!("text body")
        };
        assert!(text.contains("server_error") && !text.contains("table t"));
    }

    #[test]
    fn invalid_tokens_name_the_bearer_scheme() {
        let response = problem(&AuthError::InvalidToken);
        assert_eq!(response.status(), 401);
        assert_eq!(
            response.headers()["www-authenticate"],
            r#"Bearer error="invalid_token""#
        );
        assert_eq!(problem(&AuthError::SessionNotFound).status(), 404);
    }

    #[test]
    fn bearer_tokens_come_from_the_authorization_header() {
        let with = |value: &str| {
            lambda_http::http::Request::builder()
                .uri("/sessions")
                .header("authorization", value)
                .body(Body::Empty)
                .unwrap()
        };
        assert_eq!(bearer_token(&with("Bearer abc.def")), Some("abc.def"));
        assert_eq!(bearer_token(&with("bearer  abc")), Some("abc"));
        assert_eq!(bearer_token(&with("Basic abc")), None);
        assert_eq!(bearer_token(&with("Bearer ")), None);
        let without = lambda_http::http::Request::builder()
            .uri("/sessions")
            .body(Body::Empty)
            .unwrap();
        assert_eq!(bearer_token(&without), None);
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let response = problem(&AuthError::internal("table auth-secret-name missing"));
        assert_eq!(response.status(), 500);
        let Body::Text(text) = response.body() else {
            panic!("text body")
        };
        assert!(!text.contains("auth-secret-name"));
    }
}
