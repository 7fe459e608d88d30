//! The OpenAPI document (`openapi/openapi.yaml`) cannot drift from the service: its paths and
//! methods are the router's (which another test holds equal to template.yaml's), its bearer
//! operations are the contract's 🔒 routes, and the error codes it names are exactly the ones
//! the service answers with. `make test` also validates it (openapi-spec-validator) and runs
//! schemathesis with it against the local API.

use std::collections::BTreeSet;

use auth_shared::AuthError;
use serde_yaml_ng::Value;

use crate::routes::{BEARER_ROUTES, router_routes, workspace_file};

fn document() -> Value {
    serde_yaml_ng::from_str(&workspace_file("openapi/openapi.yaml")).expect("the document parses")
}

/// (METHOD, path) of every operation in the document.
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut found = BTreeSet::new();
    for (path, item) in doc["paths"].as_mapping().expect("paths") {
        for (method, _) in item.as_mapping().expect("a path item") {
            found.insert((
                method.as_str().unwrap().to_uppercase(),
                path.as_str().unwrap().to_owned(),
            ));
        }
    }
    found
}

#[test]
fn the_document_describes_exactly_the_routes_the_router_serves() {
    let doc = document();
    assert_eq!(doc["openapi"].as_str(), Some("3.1.0"));
    let served: BTreeSet<(String, String)> = router_routes()
        .into_iter()
        .map(|(method, path, _)| (method, path))
        .collect();
    assert_eq!(operations(&doc), served, "openapi.yaml vs the router");
}

#[test]
fn bearer_operations_are_the_contract_s_bearer_routes() {
    let doc = document();
    let mut secured = BTreeSet::new();
    for (method, path) in operations(&doc) {
        let operation = &doc["paths"][path.as_str()][method.to_lowercase().as_str()];
        if let Some(security) = operation["security"].as_sequence() {
            assert!(
                security.iter().any(|s| s.get("bearer").is_some()),
                "{method} {path}"
            );
            // A bearer route answers 401 invalid_token.
            assert!(
                operation["responses"].get("401").is_some(),
                "{method} {path} documents no 401"
            );
            secured.insert((method, path));
        }
    }
    let expected: BTreeSet<(String, String)> = BEARER_ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(secured, expected);
}

/// Every `code` value named by an `enum` or `const` under a `code` property.
fn documented_codes(value: &Value, under_code: bool, found: &mut BTreeSet<String>) {
    match value {
        Value::Mapping(map) => {
            for (key, child) in map {
                let key = key.as_str().unwrap_or_default();
                if under_code && (key == "enum" || key == "const") {
                    match child {
                        Value::String(code) => {
                            found.insert(code.clone());
                        }
                        Value::Sequence(codes) => {
                            found.extend(codes.iter().filter_map(|c| c.as_str().map(str::to_owned)))
                        }
                        _ => {}
                    }
                }
                documented_codes(child, key == "code", found);
            }
        }
        Value::Sequence(items) => items
            .iter()
            .for_each(|item| documented_codes(item, false, found)),
        _ => {}
    }
}

/// Every error the service has; the match fails to compile when a variant is added, so the
/// list below cannot fall behind.
fn every_error() -> Vec<AuthError> {
    let all = vec![
        AuthError::InvalidRequest(String::new()),
        AuthError::InvalidEmail,
        AuthError::InvalidPhone,
        AuthError::PasswordMismatch,
        AuthError::WeakPassword,
        AuthError::RateLimited { retry_after: 1 },
        AuthError::UserExists,
        AuthError::DeliveryFailed("x".into()),
        AuthError::InvalidCode,
        AuthError::AlreadyVerified,
        AuthError::TooManyAttempts,
        AuthError::UserNotFound,
        AuthError::InvalidCredentials,
        AuthError::VerificationRequired {
            challenge_id: String::new(),
            channel: auth_shared::domain::Channel::Email,
        },
        AuthError::MfaRequired {
            challenge_id: String::new(),
            methods: Vec::new(),
            passkey_options: None,
        },
        AuthError::AccountDisabled,
        AuthError::InvalidChallenge,
        AuthError::InvalidCredential,
        AuthError::ReauthenticationRequired,
        AuthError::TotpAlreadyEnabled,
        AuthError::TotpNotEnabled,
        AuthError::PasskeyNotFound,
        AuthError::TooManyPasskeys,
        AuthError::ProviderNotFound,
        AuthError::InvalidRedirectUri,
        AuthError::InvalidState,
        AuthError::ProviderUnavailable,
        AuthError::ProviderAlreadyLinked,
        AuthError::ProviderNotLinked,
        AuthError::LastSignInMethod,
        AuthError::InvalidGrant,
        AuthError::UnsupportedGrantType,
        AuthError::InvalidToken,
        AuthError::SessionNotFound,
        AuthError::PayloadTooLarge { limit: 1 },
        AuthError::UnsupportedMediaType,
        AuthError::internal("x"),
    ];
    for error in &all {
        match error {
            AuthError::InvalidRequest(_)
            | AuthError::InvalidEmail
            | AuthError::InvalidPhone
            | AuthError::PasswordMismatch
            | AuthError::WeakPassword
            | AuthError::RateLimited { .. }
            | AuthError::UserExists
            | AuthError::DeliveryFailed(_)
            | AuthError::InvalidCode
            | AuthError::AlreadyVerified
            | AuthError::TooManyAttempts
            | AuthError::UserNotFound
            | AuthError::InvalidCredentials
            | AuthError::AccountDisabled
            | AuthError::VerificationRequired { .. }
            | AuthError::MfaRequired { .. }
            | AuthError::InvalidChallenge
            | AuthError::InvalidCredential
            | AuthError::ReauthenticationRequired
            | AuthError::TotpAlreadyEnabled
            | AuthError::TotpNotEnabled
            | AuthError::PasskeyNotFound
            | AuthError::TooManyPasskeys
            | AuthError::ProviderNotFound
            | AuthError::InvalidRedirectUri
            | AuthError::InvalidState
            | AuthError::ProviderUnavailable
            | AuthError::ProviderAlreadyLinked
            | AuthError::ProviderNotLinked
            | AuthError::LastSignInMethod
            | AuthError::InvalidGrant
            | AuthError::UnsupportedGrantType
            | AuthError::InvalidToken
            | AuthError::SessionNotFound
            | AuthError::PayloadTooLarge { .. }
            | AuthError::UnsupportedMediaType
            | AuthError::Internal(_) => {}
        }
    }
    all
}

#[test]
fn the_document_names_every_error_code_and_no_other() {
    let mut documented = BTreeSet::new();
    documented_codes(&document()["paths"], false, &mut documented);
    documented_codes(
        &document()["components"]["responses"],
        false,
        &mut documented,
    );
    let answered: BTreeSet<String> = every_error()
        .iter()
        .map(|e| e.code().to_owned())
        // A 5xx is never documented: its body says only that it failed.
        .filter(|code| code != "internal_error")
        .collect();
    assert_eq!(documented, answered);
}

#[test]
fn every_error_response_names_its_status_s_codes_with_the_right_status() {
    // The status an error is answered with is the status it is documented under.
    let doc = document();
    for error in every_error() {
        let status = auth_shared::http::problem(&error).status().as_u16();
        if status >= 500 {
            continue;
        }
        let mut under_status = BTreeSet::new();
        for (_, item) in doc["paths"].as_mapping().unwrap() {
            for (_, operation) in item.as_mapping().unwrap() {
                let response = &operation["responses"][status.to_string().as_str()];
                let resolved = match response["$ref"].as_str() {
                    Some(r) => &doc["components"]["responses"][r.rsplit('/').next().unwrap()],
                    None => response,
                };
                documented_codes(resolved, false, &mut under_status);
            }
        }
        assert!(
            under_status.contains(error.code()),
            "{} ({status}) is not documented under {status}",
            error.code()
        );
    }
}
