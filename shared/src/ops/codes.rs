//! Issuing a confirmation code for an identifier, and finding the one a request presents.

use crate::AuthError;
use crate::domain::{EmailCode, Identifier, PhoneNumber, SmsCode};
use crate::notify::Outgoing;
use crate::ops::App;
use crate::store::{CodeItem, keys};

/// A fresh code: the item to store and the message that carries it.
pub struct IssuedCode {
    pub item: CodeItem,
    pub message: Outgoing,
}

pub fn issue(
    app: &App,
    identifier: &Identifier,
    user_id: &str,
    now: i64,
) -> Result<IssuedCode, AuthError> {
    let config = &app.config;
    let (pk, digest, ttl, message) = match identifier {
        Identifier::Email(email) => {
            let code = EmailCode::generate()?;
            let digest = code.digest();
            let message = Outgoing::ConfirmLink {
                to: email.clone(),
                code,
            };
            (
                keys::link_code(&digest),
                digest,
                config.email_code_ttl_secs,
                message,
            )
        }
        Identifier::Phone(phone) => {
            let code = SmsCode::generate()?;
            let digest = code.digest(&app.secrets.hmac_key, phone.as_str());
            let message = Outgoing::SmsCode {
                to: phone.clone(),
                code,
            };
            (
                keys::sms_code(phone.as_str()),
                digest,
                config.sms_code_ttl_secs,
                message,
            )
        }
    };
    Ok(IssuedCode {
        item: CodeItem {
            pk,
            sk: keys::CODE.to_owned(),
            user_id: user_id.to_owned(),
            digest,
            created_at: now,
            expires_at: now + ttl,
            attempts: 0,
            used: false,
            tries: Vec::new(),
        },
        message,
    })
}

/// Where a presented code would be stored and the digest it must match.
pub struct PresentedCode {
    pub pk: String,
    pub digest: String,
}

impl PresentedCode {
    /// An email link code alone, or a 6-digit code with the phone it was sent to.
    pub fn new(app: &App, raw: &str, phone: Option<&PhoneNumber>) -> Result<Self, AuthError> {
        match phone {
            None => {
                let code = EmailCode::parse(raw)?;
                let digest = code.digest();
                Ok(Self {
                    pk: keys::link_code(&digest),
                    digest,
                })
            }
            Some(phone) => {
                let code = SmsCode::parse(raw)?;
                Ok(Self {
                    pk: keys::sms_code(phone.as_str()),
                    digest: code.digest(&app.secrets.hmac_key, phone.as_str()),
                })
            }
        }
    }
}
