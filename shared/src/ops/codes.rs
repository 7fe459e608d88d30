//! Issuing a confirmation code for an identifier, and finding the one a request presents.

use crate::AuthError;
use crate::domain::{EmailCode, Identifier, PhoneNumber, SmsCode};
use crate::notify::Outgoing;
use crate::ops::Keyed;
use crate::ops::budgets::Origin;
use crate::ops::verify;
use crate::store::{CodeItem, keys};

/// What a code is for: confirming an identifier, or resetting the password. Both kinds live
/// under the same keys, told apart by the sort key, so neither can stand in for the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Confirm,
    Reset,
    /// Confirming a new identifier for an existing account.
    Change,
}

impl Purpose {
    /// The sort key of this purpose's code items.
    pub fn sort_key(self) -> &'static str {
        match self {
            Self::Confirm => keys::CODE,
            Self::Reset => keys::RESET,
            Self::Change => keys::CHANGE,
        }
    }
}

/// A fresh code: the item to store and the message that carries it.
pub struct IssuedCode {
    pub item: CodeItem,
    pub message: Outgoing,
}

pub async fn issue(
    app: &impl Keyed,
    identifier: &Identifier,
    user_id: &str,
    purpose: Purpose,
    now: i64,
) -> Result<IssuedCode, AuthError> {
    let config = app.config();
    let (pk, digest, ttl, message) = match identifier {
        Identifier::Email(email) => {
            let code = EmailCode::generate()?;
            let digest = code.digest();
            let to = email.clone();
            let (ttl, message) = match purpose {
                Purpose::Confirm => (
                    config.email_code_ttl_secs,
                    Outgoing::ConfirmLink { to, code },
                ),
                Purpose::Reset => (config.reset_link_ttl_secs, Outgoing::ResetLink { to, code }),
                Purpose::Change => (
                    config.email_code_ttl_secs,
                    Outgoing::ChangeLink { to, code },
                ),
            };
            (keys::link_code(&digest), digest, ttl, message)
        }
        Identifier::Phone(phone) => {
            let code = SmsCode::generate()?;
            let digest = code.digest(&app.hmac_key().await?, phone.as_str());
            let to = phone.clone();
            let message = match purpose {
                Purpose::Confirm => Outgoing::SmsCode { to, code },
                Purpose::Reset => Outgoing::SmsReset { to, code },
                Purpose::Change => Outgoing::SmsChange { to, code },
            };
            let pk = match purpose {
                Purpose::Change => keys::account_sms_code(phone.as_str(), user_id),
                Purpose::Confirm | Purpose::Reset => keys::sms_code(phone.as_str()),
            };
            (pk, digest, config.sms_code_ttl_secs, message)
        }
    };
    // Every 6-digit code's tries also take from its identifier's daily window.
    let identifier_key = matches!(identifier, Identifier::Phone(_))
        .then(|| keys::identifier(identifier.kind(), identifier.normalized()));
    Ok(IssuedCode {
        item: CodeItem {
            pk,
            sk: purpose.sort_key().to_owned(),
            user_id: user_id.to_owned(),
            digest,
            created_at: now,
            expires_at: now + ttl,
            attempts: 0,
            used: false,
            tries: Vec::new(),
            identifier_key,
            amr: Vec::new(),
            ceremony: None,
        },
        message,
    })
}

/// Where a presented code would be stored and the digest it must match.
pub struct PresentedCode {
    pub pk: String,
    pub digest: String,
    guessable: verify::Guessable,
    /// The phone a 6-digit code was presented with.
    phone: Option<String>,
}

impl PresentedCode {
    /// An email link code alone, or a 6-digit code with the phone it was sent to.
    pub async fn new(
        app: &impl Keyed,
        raw: &str,
        phone: Option<&PhoneNumber>,
    ) -> Result<Self, AuthError> {
        match phone {
            None => {
                let code = EmailCode::parse(raw)?;
                let digest = code.digest();
                Ok(Self {
                    pk: keys::link_code(&digest),
                    digest,
                    guessable: verify::Guessable::No,
                    phone: None,
                })
            }
            Some(phone) => {
                let code = SmsCode::parse(raw)?;
                Ok(Self {
                    pk: keys::sms_code(phone.as_str()),
                    digest: code.digest(&app.hmac_key().await?, phone.as_str()),
                    guessable: verify::Guessable::Counted,
                    phone: Some(phone.as_str().to_owned()),
                })
            }
        }
    }

    /// The same code as an identifier-change code of the account `user_id`: a 6-digit one
    /// is kept per account (see [`keys::account_sms_code`]).
    pub fn of_account(mut self, user_id: &str) -> Self {
        if let Some(phone) = &self.phone {
            self.pk = keys::account_sms_code(phone, user_id);
        }
        self
    }
}

impl PresentedCode {
    /// Takes this request's one try at the code kept for `purpose`: counted before it is
    /// compared for a 6-digit code; see [`verify::try_code`].
    pub async fn try_once(
        &self,
        app: &impl Keyed,
        purpose: Purpose,
        origin: &Origin,
    ) -> Result<CodeItem, AuthError> {
        verify::try_code(
            app,
            &self.pk,
            purpose.sort_key(),
            &self.digest,
            self.guessable,
            origin,
            app.now(),
        )
        .await
    }
}
