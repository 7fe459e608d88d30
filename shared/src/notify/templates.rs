//! The texts users receive. Plain text and HTML parts carry the same content.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub subject: String,
    pub text: String,
    pub html: String,
}

pub fn confirm_link(link: &str, ttl_secs: i64) -> Email {
    let lifetime = human_duration(ttl_secs);
    let href = html_escape(link);
    Email {
        subject: "Confirm your email address".to_owned(),
        text: format!(
            "Open this link to confirm your email address:\n\n{link}\n\n\
             The link works once and expires in {lifetime}. \
             If you did not create an account, ignore this message.\n"
        ),
        html: format!(
            "<!doctype html><html><body>\
             <p>Confirm your email address by opening this link:</p>\
             <p><a href=\"{href}\">Confirm my email address</a></p>\
             <p>Or paste it into your browser: {href}</p>\
             <p>The link works once and expires in {lifetime}. \
             If you did not create an account, ignore this message.</p>\
             </body></html>"
        ),
    }
}

pub fn sign_in_code(code: &str, ttl_secs: i64) -> Email {
    let lifetime = human_duration(ttl_secs);
    Email {
        // Never the code: lock screens and notification previews show subjects.
        subject: "Your sign-in code".to_owned(),
        text: format!(
            "Your sign-in code is {code}.\n\nIt expires in {lifetime}. Entering it also \
             confirms this email address. If you did not try to sign in, change your password.\n"
        ),
        html: format!(
            "<!doctype html><html><body>\
             <p>Your sign-in code is <strong>{code}</strong>.</p>\
             <p>It expires in {lifetime}. Entering it also confirms this email address. \
             If you did not try to sign in, change your password.</p>\
             </body></html>"
        ),
    }
}

pub fn reset_link(link: &str, ttl_secs: i64) -> Email {
    let lifetime = human_duration(ttl_secs);
    let href = html_escape(link);
    Email {
        subject: "Reset your password".to_owned(),
        text: format!(
            "Someone asked to reset the password of the account with this email address. \
             Open this link to choose a new password:\n\n{link}\n\n\
             The link works once and expires in {lifetime}; using it signs out every device. \
             If you did not ask, ignore this message: your password stays as it is.\n"
        ),
        html: format!(
            "<!doctype html><html><body>\
             <p>Someone asked to reset the password of the account with this email address.</p>\
             <p><a href=\"{href}\">Choose a new password</a></p>\
             <p>Or paste this link into your browser: {href}</p>\
             <p>The link works once and expires in {lifetime}; using it signs out every device. \
             If you did not ask, ignore this message: your password stays as it is.</p>\
             </body></html>"
        ),
    }
}

pub fn change_link(link: &str, ttl_secs: i64) -> Email {
    let lifetime = human_duration(ttl_secs);
    let href = html_escape(link);
    Email {
        subject: "Confirm your new email address".to_owned(),
        text: format!(
            "Open this link, signed in, to make this address the one your account signs in \
             with:\n\n{link}\n\nThe link works once and expires in {lifetime}. \
             If you did not ask for this, ignore this message: nothing changes.\n"
        ),
        html: format!(
            "<!doctype html><html><body>\
             <p>Open this link, signed in, to make this address the one your account signs in with:</p>\
             <p><a href=\"{href}\">Use this email address</a></p>\
             <p>Or paste it into your browser: {href}</p>\
             <p>The link works once and expires in {lifetime}. \
             If you did not ask for this, ignore this message: nothing changes.</p>\
             </body></html>"
        ),
    }
}

pub fn sms_change(code: &str, ttl_secs: i64) -> String {
    format!(
        "Your code to use this phone for your account is {code}. It expires in {}. \
         Do not share it. If you did not ask for it, ignore this message.",
        human_duration(ttl_secs)
    )
}

/// To the old identifier once a new one replaced it.
pub fn identifier_removed() -> Email {
    let text = "This email address no longer signs in to your account: the account now \
                signs in with another email address or phone number. If you did not make \
                this change, reset your password with the new identifier or contact support.";
    Email {
        subject: "Your account no longer uses this email address".to_owned(),
        text: format!("{text}\n"),
        html: format!("<!doctype html><html><body><p>{text}</p></body></html>"),
    }
}

/// What a notice says: the subject, and the sentence both forms carry.
fn notice_text(notice: super::Notice) -> (&'static str, &'static str) {
    use super::Notice::*;
    match notice {
        PasswordChanged => (
            "Your password was changed",
            "The password of your account was just changed, and every other session has \
             ended. If you did not do this, reset your password now and contact support.",
        ),
        TotpEnabled => (
            "An authenticator app now protects your account",
            "An authenticator app was turned on for your account: signing in with your password \
             now also asks for its code. If you did not do this, reset your password and \
             contact support.",
        ),
        TotpDisabled => (
            "Your authenticator app was turned off",
            "The authenticator app of your account was turned off: signing in needs only your \
             password now. If you did not do this, reset your password and contact support.",
        ),
        RecoveryCodeUsed => (
            "A recovery code was used to sign in",
            "One of your account's recovery codes was just used to sign in. If this was not \
             you, reset your password and turn the authenticator app off and on again.",
        ),
        PasskeyAdded => (
            "A passkey was added to your account",
            "A new passkey was added to your account: it signs in without a password. If you \
             did not do this, remove it from your account page, reset your password and contact \
             support.",
        ),
        PasskeyRemoved => (
            "A passkey was removed from your account",
            "A passkey was removed from your account and no longer signs in. If you did not do \
             this, reset your password and contact support.",
        ),
    }
}

pub fn notice_email(notice: super::Notice) -> Email {
    let (subject, text) = notice_text(notice);
    Email {
        subject: subject.to_owned(),
        text: format!("{text}\n"),
        html: format!(
            "<!doctype html><html><body><p>{}</p></body></html>",
            html_escape(text)
        ),
    }
}

pub fn notice_sms(notice: super::Notice) -> &'static str {
    notice_text(notice).1
}

pub const SMS_REMOVED: &str = "This phone number no longer signs in to your account. \
                               If you did not make this change, contact support.";

pub fn sms_reset(code: &str, ttl_secs: i64) -> String {
    format!(
        "Your password reset code is {code}. It expires in {}. Do not share it. \
         If you did not ask for it, ignore this message.",
        human_duration(ttl_secs)
    )
}

pub fn sms_code(code: &str, ttl_secs: i64) -> String {
    format!(
        "Your verification code is {code}. It expires in {}. Do not share it.",
        human_duration(ttl_secs)
    )
}

fn human_duration(secs: i64) -> String {
    let plural = |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    if secs % 3600 == 0 {
        plural(secs / 3600, "hour")
    } else if secs % 60 == 0 {
        plural(secs / 60, "minute")
    } else {
        plural(secs, "second")
    }
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_mail_subject_carries_a_code_or_link() {
        let (code, link) = ("493817", "https://app.example.com/confirm#code=abcdefgh");
        let mails = [
            confirm_link(link, 86_400),
            sign_in_code(code, 600),
            reset_link(link, 3600),
            change_link(link, 86_400),
            identifier_removed(),
        ];
        for mail in mails {
            assert!(
                !mail.subject.contains(code) && !mail.subject.contains("abcdefgh"),
                "{}",
                mail.subject
            );
        }
        assert!(sign_in_code(code, 600).text.contains(code));
    }

    #[test]
    fn confirm_email_carries_the_link_in_both_parts() {
        let email = confirm_link("https://app.example.com/confirm?code=abc&x=1", 86_400);
        assert!(
            email
                .text
                .contains("https://app.example.com/confirm?code=abc&x=1")
        );
        assert!(
            email
                .html
                .contains("href=\"https://app.example.com/confirm?code=abc&amp;x=1\"")
        );
        assert!(email.text.contains("24 hours"));
    }

    #[test]
    fn reset_texts_say_what_to_do_if_the_user_did_not_ask() {
        let email = reset_link("https://app.example.com/reset/abc", 3600);
        assert!(email.text.contains("https://app.example.com/reset/abc"));
        assert!(
            email
                .html
                .contains("href=\"https://app.example.com/reset/abc\"")
        );
        assert!(email.text.contains("1 hour") && email.text.contains("If you did not ask"));
        let sms = sms_reset("012345", 600);
        assert!(sms.contains("012345") && sms.contains("10 minutes"));
        assert!(sms.contains("If you did not ask"));
    }

    #[test]
    fn sms_text_names_code_and_lifetime() {
        assert_eq!(
            sms_code("012345", 600),
            "Your verification code is 012345. It expires in 10 minutes. Do not share it."
        );
        assert_eq!(human_duration(3600), "1 hour");
        assert_eq!(human_duration(90), "90 seconds");
    }
}
