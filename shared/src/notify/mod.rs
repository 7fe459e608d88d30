//! Code delivery: email through SES v2, SMS through SNS, and the texts they carry.

mod templates;

use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use aws_sdk_sns::types::MessageAttributeValue;

use crate::Config;
use crate::config::mailed_link;
use crate::domain::{EmailAddress, EmailCode, Identifier, PhoneNumber, SmsCode};
use crate::error::BoxError;
use aws_sdk_sesv2::error::ProvideErrorMetadata;

pub use templates::Email;

/// A code on its way to a user.
#[derive(Debug, Clone)]
pub enum Outgoing {
    /// A confirmation link by email.
    ConfirmLink { to: EmailAddress, code: EmailCode },
    /// A 6-digit confirmation code by SMS (registration, resend).
    SmsCode { to: PhoneNumber, code: SmsCode },
    /// A 6-digit sign-in code by SMS.
    SmsOtp { to: PhoneNumber, code: SmsCode },
    /// A 6-digit sign-in code by email.
    EmailOtp { to: EmailAddress, code: SmsCode },
    /// A password-reset link by email.
    ResetLink { to: EmailAddress, code: EmailCode },
    /// A 6-digit password-reset code by SMS.
    SmsReset { to: PhoneNumber, code: SmsCode },
    /// A link that confirms this address as an account's new email.
    ChangeLink { to: EmailAddress, code: EmailCode },
    /// A 6-digit code that confirms this phone as an account's new phone.
    SmsChange { to: PhoneNumber, code: SmsCode },
    /// The notice to an old email address that it no longer signs in to its account.
    EmailRemoved { to: EmailAddress },
    /// The same notice by SMS to an old phone.
    SmsRemoved { to: PhoneNumber },
    /// A notice of a change to how the account signs in, to its identifier (no code in it).
    Notice { to: Identifier, notice: Notice },
}

/// What a [`Outgoing::Notice`] tells the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    PasswordChanged,
    TotpEnabled,
    TotpDisabled,
    RecoveryCodeUsed,
    PasskeyAdded,
    PasskeyRemoved,
}

#[derive(Debug, Clone)]
pub struct Notifier {
    ses: aws_sdk_sesv2::Client,
    sns: aws_sdk_sns::Client,
    sender: String,
    confirm_url: String,
    reset_url: String,
    change_url: String,
    email_code_ttl_secs: i64,
    reset_link_ttl_secs: i64,
    sms_code_ttl_secs: i64,
    login_otp_ttl_secs: i64,
}

impl Notifier {
    pub fn new(ses: aws_sdk_sesv2::Client, sns: aws_sdk_sns::Client, config: &Config) -> Self {
        Self {
            ses,
            sns,
            sender: config.sender_email.clone(),
            confirm_url: config.confirm_url.clone(),
            reset_url: config.reset_url.clone(),
            change_url: config.identifier_change_url.clone(),
            email_code_ttl_secs: config.email_code_ttl_secs,
            reset_link_ttl_secs: config.reset_link_ttl_secs,
            sms_code_ttl_secs: config.sms_code_ttl_secs,
            login_otp_ttl_secs: config.login_otp_ttl_secs,
        }
    }

    #[tracing::instrument(skip_all, fields(channel))]
    pub async fn send(&self, message: &Outgoing) -> Result<(), BoxError> {
        match message {
            Outgoing::ConfirmLink { to, code } => {
                tracing::Span::current().record("channel", "email");
                let link = mailed_link(&self.confirm_url, code.expose(), to.as_str());
                let email = templates::confirm_link(&link, self.email_code_ttl_secs);
                self.send_email(to, &email).await
            }
            Outgoing::SmsCode { to, code } => {
                tracing::Span::current().record("channel", "sms");
                let text = templates::sms_code(code.expose(), self.sms_code_ttl_secs);
                self.send_sms(to, &text).await
            }
            Outgoing::SmsOtp { to, code } => {
                tracing::Span::current().record("channel", "sms");
                let text = templates::sms_code(code.expose(), self.login_otp_ttl_secs);
                self.send_sms(to, &text).await
            }
            Outgoing::EmailOtp { to, code } => {
                tracing::Span::current().record("channel", "email");
                let email = templates::sign_in_code(code.expose(), self.login_otp_ttl_secs);
                self.send_email(to, &email).await
            }
            Outgoing::ResetLink { to, code } => {
                tracing::Span::current().record("channel", "email");
                let link = mailed_link(&self.reset_url, code.expose(), to.as_str());
                let email = templates::reset_link(&link, self.reset_link_ttl_secs);
                self.send_email(to, &email).await
            }
            Outgoing::SmsReset { to, code } => {
                tracing::Span::current().record("channel", "sms");
                let text = templates::sms_reset(code.expose(), self.sms_code_ttl_secs);
                self.send_sms(to, &text).await
            }
            Outgoing::ChangeLink { to, code } => {
                tracing::Span::current().record("channel", "email");
                let link = mailed_link(&self.change_url, code.expose(), to.as_str());
                let email = templates::change_link(&link, self.email_code_ttl_secs);
                self.send_email(to, &email).await
            }
            Outgoing::SmsChange { to, code } => {
                tracing::Span::current().record("channel", "sms");
                let text = templates::sms_change(code.expose(), self.sms_code_ttl_secs);
                self.send_sms(to, &text).await
            }
            Outgoing::EmailRemoved { to } => {
                tracing::Span::current().record("channel", "email");
                self.send_email(to, &templates::identifier_removed()).await
            }
            Outgoing::SmsRemoved { to } => {
                tracing::Span::current().record("channel", "sms");
                self.send_sms(to, templates::SMS_REMOVED).await
            }
            Outgoing::Notice {
                to: Identifier::Email(to),
                notice,
            } => {
                tracing::Span::current().record("channel", "email");
                self.send_email(to, &templates::notice_email(*notice)).await
            }
            Outgoing::Notice {
                to: Identifier::Phone(to),
                notice,
            } => {
                tracing::Span::current().record("channel", "sms");
                self.send_sms(to, templates::notice_sms(*notice)).await
            }
        }
    }

    async fn send_email(&self, to: &EmailAddress, email: &Email) -> Result<(), BoxError> {
        let content = |data: &str| Content::builder().data(data).charset("UTF-8").build();
        let message = Message::builder()
            .subject(content(&email.subject)?)
            .body(
                Body::builder()
                    .text(content(&email.text)?)
                    .html(content(&email.html)?)
                    .build(),
            )
            .build();
        self.ses
            .send_email()
            .from_email_address(&self.sender)
            .destination(Destination::builder().to_addresses(to.as_str()).build())
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await
            .map_err(|e| redacted("SES SendEmail", &aws_sdk_sesv2::Error::from(e)))?;
        Ok(())
    }

    async fn send_sms(&self, to: &PhoneNumber, text: &str) -> Result<(), BoxError> {
        let transactional = MessageAttributeValue::builder()
            .data_type("String")
            .string_value("Transactional")
            .build()?;
        self.sns
            .publish()
            .phone_number(to.as_str())
            .message(text)
            .message_attributes("AWS.SNS.SMS.SMSType", transactional)
            .send()
            .await
            .map_err(|e| redacted("SNS Publish", &aws_sdk_sns::Error::from(e)))?;
        Ok(())
    }
}

/// A delivery error fit for logs: the service's error code, never its message, which can
/// quote the recipient's address or number.
fn redacted(operation: &str, err: &(impl ProvideErrorMetadata + std::fmt::Display)) -> BoxError {
    let code = err
        .code()
        .map_or_else(|| "no answer from the service".to_owned(), str::to_owned);
    format!("{operation} failed: {code}").into()
}
