//! The HTTP edge: body limits, content types and JSON parsing on the way in, and the ONE
//! mapping from [`AuthError`] (through its one table, [`AuthError::answer`]) to an RFC 9457
//! problem document on the way out.

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use std::future::Future;
use std::sync::Arc;

use crate::AuthError;

/// Runs an HTTP Lambda with the capabilities `main` built: every request through `handle`,
/// every error it returns answered here as a problem document (RFC 9457).
pub async fn serve<A, F, Fut>(app: A, handle: F) -> Result<(), lambda_http::Error>
where
    A: Send + Sync + 'static,
    F: Fn(Arc<A>, Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Response<Body>, AuthError>> + Send + 'static,
{
    run(app, Flavour::Problem, handle).await
}

/// [`serve`] for the OAuth endpoints (`/token`, `/logout`): errors as `application/json`
/// with RFC 6749's `error` and `error_description` beside the problem members.
pub async fn serve_oauth<A, F, Fut>(app: A, handle: F) -> Result<(), lambda_http::Error>
where
    A: Send + Sync + 'static,
    F: Fn(Arc<A>, Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Response<Body>, AuthError>> + Send + 'static,
{
    run(app, Flavour::OAuth, handle).await
}

async fn run<A, F, Fut>(app: A, flavour: Flavour, handle: F) -> Result<(), lambda_http::Error>
where
    A: Send + Sync + 'static,
    F: Fn(Arc<A>, Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Response<Body>, AuthError>> + Send + 'static,
{
    let app = Arc::new(app);
    lambda_http::run(lambda_http::service_fn(move |request: Request| {
        let route = route_key(&request);
        let request_id = request
            .lambda_context_ref()
            .map(|context| context.request_id.clone())
            .unwrap_or_default();
        // Boxed: a handler's future nests the SDK's, and laid out inside the runtime's own
        // future the whole would pass rustc's query depth limit as flows grow.
        let response = Box::pin(handle(Arc::clone(&app), request));
        async move {
            let started = std::time::Instant::now();
            let response = match response.await {
                Ok(response) => response,
                Err(err) => error_response(&err, flavour, &route, &request_id),
            };
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

/// A path parameter, falling back to the path segment that follows `after` (for a route
/// such as `/oauth/{provider}/start`, whose last segment is not the parameter).
pub fn path_param_after(request: &Request, name: &str, after: &str) -> String {
    if let Some(value) = request.path_parameters_ref().and_then(|p| p.first(name)) {
        return value.to_owned();
    }
    let mut segments = request.uri().path().split('/');
    segments
        .by_ref()
        .find(|s| *s == after)
        .and_then(|_| segments.next())
        .unwrap_or_default()
        .to_owned()
}

/// A query-string parameter.
pub fn query_param(request: &Request, name: &str) -> Option<String> {
    request
        .query_string_parameters_ref()
        .and_then(|q| q.first(name))
        .map(str::to_owned)
}

/// The parameters of a query string, or of a form-encoded body when there is one (a
/// provider that answers with a form post).
pub fn query_or_form<T: DeserializeOwned + Default>(request: &Request) -> Result<T, AuthError> {
    if is_form(request) {
        return serde_urlencoded::from_bytes(body_bytes(request)?)
            .map_err(|e| AuthError::InvalidRequest(format!("malformed form body: {e}")));
    }
    let pairs: Vec<(&str, &str)> = request
        .query_string_parameters_ref()
        .map(|q| q.iter().collect())
        .unwrap_or_default();
    let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
    serde_urlencoded::from_str(&query)
        .map_err(|e| AuthError::InvalidRequest(format!("malformed query: {e}")))
}

/// A `302 Found` to `location`, never cached, with no `Referer` to the next page.
pub fn redirect(location: &str) -> Response<Body> {
    redirect_setting(location, None)
}

/// [`redirect`], setting a cookie (`set_cookie`, a whole `Set-Cookie` value) on the way.
pub fn redirect_setting(location: &str, set_cookie: Option<&str>) -> Response<Body> {
    let mut response = empty(StatusCode::FOUND);
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(location) {
        headers.insert(header::LOCATION, value);
    }
    if let Some(value) = set_cookie.and_then(|c| HeaderValue::from_str(c).ok()) {
        headers.insert(header::SET_COOKIE, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// A `200 OK` JSON response.
pub fn ok<T: Serialize>(value: &T) -> Response<Body> {
    json_response(StatusCode::OK, value, "application/json")
}

/// A `201 Created` JSON response.
pub fn created<T: Serialize>(value: &T) -> Response<Body> {
    json_response(StatusCode::CREATED, value, "application/json")
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

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    code: &'a str,
    detail: String,
    /// On 5xx only: the invocation's id, which the error's log line carries too.
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
    #[serde(flatten)]
    extra: serde_json::Map<String, serde_json::Value>,
}

/// How errors are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavour {
    /// RFC 9457, `application/problem+json`.
    Problem,
    /// The same members plus RFC 6749's `error` and `error_description`, as
    /// `application/json` (OAuth client libraries accept only that on `/token`).
    OAuth,
}

/// The problem document for an error, without a request id (tests, tools).
pub fn problem(err: &AuthError) -> Response<Body> {
    error_response(err, Flavour::Problem, "", "")
}

/// The answer to a failed request. A 5xx body says nothing about the cause, which is logged
/// with the step that failed and the request id the body carries.
pub fn error_response(
    err: &AuthError,
    flavour: Flavour,
    route: &str,
    request_id: &str,
) -> Response<Body> {
    let answer = err.answer();
    let detail = match err {
        AuthError::Internal(_) => {
            tracing::error!(route, request_id, error = %crate::error::chain(err), "internal error");
            "The service could not complete the request. Try again later.".to_owned()
        }
        AuthError::DeliveryFailed(_) => {
            tracing::warn!(route, request_id, error = %crate::error::chain(err), "delivery failed");
            err.to_string()
        }
        _ => err.to_string(),
    };
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
    if let AuthError::MfaRequired {
        challenge_id,
        methods,
        passkey_options,
    } = err
    {
        extra.insert("challenge_id".into(), challenge_id.as_str().into());
        extra.insert(
            "methods".into(),
            serde_json::to_value(methods).unwrap_or_default(),
        );
        if let Some(options) = passkey_options {
            extra.insert("passkey_options".into(), options.clone());
        }
    }
    let content_type = match flavour {
        Flavour::Problem => PROBLEM_JSON,
        Flavour::OAuth => {
            extra.insert("error".into(), answer.oauth_error.into());
            extra.insert("error_description".into(), detail.clone().into());
            "application/json"
        }
    };
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = Problem {
        kind: format!(
            "https://auth-service.dev/problems/{}",
            answer.code.replace('_', "-")
        ),
        title: answer.title,
        status: answer.status,
        code: answer.code,
        detail,
        request_id: (status.is_server_error() && !request_id.is_empty()).then_some(request_id),
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
    fn a_second_factor_step_names_its_challenge_and_methods() {
        let response = problem(&AuthError::MfaRequired {
            challenge_id: "c-1".into(),
            methods: vec!["totp", "recovery_code"],
            passkey_options: None,
        });
        assert_eq!(response.status(), 403);
        let Body::Text(text) = response.body() else {
            panic!("text body")
        };
        let json: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(json["code"], "mfa_required");
        assert_eq!(json["challenge_id"], "c-1");
        assert_eq!(
            json["methods"],
            serde_json::json!(["totp", "recovery_code"])
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
        let response = error_response(
            &AuthError::InvalidGrant,
            Flavour::OAuth,
            "POST /token",
            "r-1",
        );
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
        assert!(json.get("request_id").is_none(), "only 5xx carry it");
        let internal = error_response(
            &AuthError::internal("table t missing"),
            Flavour::OAuth,
            "POST /token",
            "r-2",
        );
        let Body::Text(text) = internal.body() else {
            panic!("text body")
        };
        assert!(text.contains("server_error") && !text.contains("table t"));
        let json: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(json["request_id"], "r-2");
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
