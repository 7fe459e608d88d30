//! Users imported from another system by an operator (`authctl import <file.jsonl>`, through
//! the `admin` function): one JSON object a line,
//! `{"email" or "phone", "verified", "username"?, "created_at"?, "password_hash"}`, the hash
//! in a form [`crate::crypto::imported`] accepts (it is checked, not verified: nobody's
//! password is known here).
//!
//! Each valid line becomes one account in one transaction (its profile, its identifier's and
//! username's claims, `user.created` with `"imported": true`), and each line gets one report.
//! A line whose identifier or username an account already holds writes nothing and is
//! reported `exists`, so the same file run again writes nothing new: an import that stopped
//! halfway is run again from the start. Nothing reported or logged quotes a hash.

use futures::StreamExt as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::AuthError;
use crate::crypto::imported;
use crate::domain::{Identifier, Username};
use crate::ops::{Base, MAX_ROUNDS};
use crate::store::{ClaimItem, Imported, UserItem, keys};

/// How many lines of a batch are written at once.
pub const CONCURRENCY: usize = 16;
/// The longest line read; a user's line is well under it.
pub const MAX_LINE_BYTES: usize = 4096;

/// The fields a line may have.
const FIELDS: [&str; 6] = [
    "email",
    "phone",
    "verified",
    "username",
    "created_at",
    "password_hash",
];

/// What became of one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LineStatus {
    /// The account was written (`user_id`).
    Created,
    /// An account holds the identifier (`user_id`) or the username: nothing was written.
    Exists,
    /// The line was refused (`error` says why): nothing was written.
    Invalid,
    /// The table could not be written (the error is logged): nothing was written for this
    /// line, and running the file again imports it.
    Failed,
}

/// The report of one line: `{"line": n, "status": ..., "user_id"?, "error"?}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineReport {
    pub line: usize,
    pub status: LineStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl LineReport {
    fn new(line: usize, status: LineStatus) -> Self {
        Self {
            line,
            status,
            user_id: None,
            error: None,
        }
    }

    fn invalid(line: usize, reason: impl Into<String>) -> Self {
        Self {
            error: Some(reason.into()),
            ..Self::new(line, LineStatus::Invalid)
        }
    }
}

/// One line, checked: the account it makes.
struct Line {
    identifier: Identifier,
    verified: bool,
    username: Option<Username>,
    created_at: Option<i64>,
    password_hash: String,
}

/// Imports a batch of lines (`(line number, text)`), up to [`CONCURRENCY`] at a time, and
/// reports each, in the order given. Two lines with the same identifier make one account:
/// the other is reported `exists`.
#[tracing::instrument(skip_all, fields(lines = lines.len()))]
pub async fn import_batch(app: &impl Base, lines: &[(usize, String)]) -> Vec<LineReport> {
    let reports: Vec<LineReport> = futures::stream::iter(lines)
        .map(|(line, text)| import_line(app, *line, text))
        .buffered(CONCURRENCY)
        .collect()
        .await;
    let count = |status| reports.iter().filter(|r| r.status == status).count();
    tracing::info!(
        created = count(LineStatus::Created),
        exists = count(LineStatus::Exists),
        invalid = count(LineStatus::Invalid),
        failed = count(LineStatus::Failed),
        "import batch done"
    );
    reports
}

async fn import_line(app: &impl Base, number: usize, text: &str) -> LineReport {
    let line = match parse_line(app, text) {
        Ok(line) => line,
        Err(reason) => return LineReport::invalid(number, reason),
    };
    match write(app, number, &line).await {
        Ok(report) => report,
        Err(error) => {
            tracing::error!(line = number, %error, "an imported line could not be written");
            LineReport {
                error: Some("the account could not be written; run the import again".to_owned()),
                ..LineReport::new(number, LineStatus::Failed)
            }
        }
    }
}

/// The account of a checked line, written once: `created`, or `exists` with the account that
/// holds its identifier (or with the reason, when only its username is taken).
async fn write(app: &impl Base, number: usize, line: &Line) -> Result<LineReport, AuthError> {
    let mut claims = vec![keys::identifier(
        line.identifier.kind(),
        line.identifier.normalized(),
    )];
    claims.extend(line.username.as_ref().map(|u| keys::username(u.key())));
    for _ in 0..MAX_ROUNDS {
        let now = app.now();
        let user = account(line, now, app.config().awaiting());
        let outcome = app
            .store()
            .create_imported_account(&user, &claims, now, false)
            .await?;
        let report = LineReport::new(number, LineStatus::Exists);
        return Ok(match outcome {
            Imported::Created => {
                tracing::debug!(line = number, user_id = %user.user_id, "account imported");
                LineReport {
                    user_id: Some(user.user_id),
                    ..LineReport::new(number, LineStatus::Created)
                }
            }
            Imported::IdentifierTaken => LineReport {
                user_id: holder(app, &claims[0], now).await?,
                ..report
            },
            Imported::UsernameTaken => LineReport {
                error: Some("another account holds the username".to_owned()),
                ..report
            },
            Imported::Raced => continue,
        });
    }
    Err(AuthError::internal(
        "an imported account kept conflicting with concurrent writes",
    ))
}

/// The account that holds the claim `claim_pk`, if one does.
async fn holder(app: &impl Base, claim_pk: &str, now: i64) -> Result<Option<String>, AuthError> {
    let claim = app.store().get::<ClaimItem>(claim_pk, keys::CLAIM).await?;
    Ok(claim.filter(|c| c.is_live(now)).map(|c| c.user_id))
}

/// The profile of an imported account: active, verified or not as the line says, and never
/// expiring (an unverified one is not listed for the sweeper: it signs in with its password
/// and the usual one-time code, which verifies it).
fn account(line: &Line, now: i64, awaiting: Option<String>) -> UserItem {
    let user_id = uuid::Uuid::new_v4().to_string();
    let created_at = line.created_at.unwrap_or(now);
    UserItem {
        username: line.username.as_ref().map(|u| u.as_str().to_owned()),
        verified: line.verified,
        ..UserItem::new(
            &user_id,
            &line.identifier,
            line.password_hash.clone(),
            created_at,
            awaiting,
        )
    }
}

/// Reads and checks one line; the reason it is refused otherwise, in words that quote no
/// value of it (a hash in the wrong field must not reach the report).
fn parse_line(app: &impl Base, text: &str) -> Result<Line, String> {
    if text.len() > MAX_LINE_BYTES {
        return Err(format!("the line is longer than {MAX_LINE_BYTES} bytes"));
    }
    let value: Value = serde_json::from_str(text)
        .map_err(|e| format!("not valid JSON (column {})", e.column()))?;
    let Value::Object(fields) = value else {
        return Err("not a JSON object".to_owned());
    };
    if let Some(unknown) = fields.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        let plain = unknown.len() <= 32
            && unknown
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        return Err(if plain {
            format!("unknown field `{unknown}`")
        } else {
            "unknown field".to_owned()
        });
    }
    let text_field = |name: &str| -> Result<Option<&str>, String> {
        match fields.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(format!("`{name}` must be a string")),
        }
    };
    let (email, phone) = (text_field("email")?, text_field("phone")?);
    let identifier = Identifier::from_pair(email, phone).map_err(|e| match e {
        AuthError::InvalidRequest(reason) => reason,
        AuthError::InvalidEmail => "invalid email address".to_owned(),
        AuthError::InvalidPhone => "invalid phone number".to_owned(),
        _ => "invalid identifier".to_owned(),
    })?;
    // As at registration: numbers only from the countries the service sends SMS to.
    if let Identifier::Phone(phone) = &identifier
        && !app.config().sms_countries.allows(phone)
    {
        return Err("the phone number's country is not one SMS is sent to".to_owned());
    }
    let verified = match fields.get("verified") {
        Some(Value::Bool(verified)) => *verified,
        Some(_) => return Err("`verified` must be true or false".to_owned()),
        None => return Err("`verified` is required".to_owned()),
    };
    let username = text_field("username")?
        .map(Username::parse)
        .transpose()
        .map_err(|e| match e {
            AuthError::InvalidRequest(reason) => reason,
            _ => "invalid username".to_owned(),
        })?;
    let created_at = text_field("created_at")?
        .map(|at| parse_time(at, app.now()))
        .transpose()?;
    let password_hash = text_field("password_hash")?.ok_or("`password_hash` is required")?;
    imported::check(password_hash).map_err(|refused| refused.to_string())?;
    Ok(Line {
        identifier,
        verified,
        username,
        created_at,
        password_hash: password_hash.to_owned(),
    })
}

/// Epoch seconds of an RFC 3339 date-time (any offset), not after `now`.
fn parse_time(at: &str, now: i64) -> Result<i64, String> {
    use aws_smithy_types::date_time::{DateTime, Format};
    let secs = DateTime::from_str(at, Format::DateTimeWithOffset)
        .map_err(|_| "`created_at` is not an RFC 3339 date-time".to_owned())?
        .secs();
    if secs > now {
        return Err("`created_at` is in the future".to_owned());
    }
    Ok(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_read_with_their_offsets() {
        let now = 2_000_000_000;
        assert_eq!(parse_time("2020-01-02T03:04:05Z", now), Ok(1_577_934_245));
        assert_eq!(
            parse_time("2020-01-02T05:04:05.250+02:00", now),
            Ok(1_577_934_245)
        );
        assert!(parse_time("2020-01-02", now).is_err());
        assert!(parse_time("2100-01-01T00:00:00Z", now).is_err());
    }

    #[test]
    fn reports_serialize_as_the_cli_reads_them() {
        let created = LineReport {
            user_id: Some("u".into()),
            ..LineReport::new(3, LineStatus::Created)
        };
        assert_eq!(
            serde_json::to_string(&created).unwrap_or_default(),
            r#"{"line":3,"status":"created","user_id":"u"}"#
        );
        assert_eq!(
            serde_json::to_string(&LineReport::invalid(4, "not a JSON object")).unwrap_or_default(),
            r#"{"line":4,"status":"invalid","error":"not a JSON object"}"#
        );
    }
}
