//! The one bootstrap every function deploys (`sam build` copies it into each): Lambda runs it
//! with the function's name as its handler (`_HANDLER`, the template's `Handler`), and it
//! runs that function's [`run`](register::run), which builds only the capabilities that
//! function uses: its secrets, clients and keys, exactly as its own binary would. One release
//! build and one link for every function, instead of one per function; each keeps its own
//! IAM policy, which is what decides what it may call.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let handler = std::env::var("_HANDLER").unwrap_or_default();
    match handler.as_str() {
        "register" => register::run().await,
        "confirm" => confirm::run().await,
        "decline" => decline::run().await,
        "resend-code" => resend_code::run().await,
        "login" => login::run().await,
        "login-otp" => login_otp::run().await,
        "token" => token::run().await,
        "logout" => logout::run().await,
        "password-forgot" => password_forgot::run().await,
        "password-reset" => password_reset::run().await,
        "password-change" => password_change::run().await,
        "sessions-list" => sessions_list::run().await,
        "session-revoke" => session_revoke::run().await,
        "sessions-revoke-all" => sessions_revoke_all::run().await,
        "me" => me::run().await,
        "me-identifier" => me_identifier::run().await,
        "me-identifier-confirm" => me_identifier_confirm::run().await,
        "me-delete" => me_delete::run().await,
        "well-known" => well_known::run().await,
        "user-events" => user_events::run().await,
        "reset-sender" => reset_sender::run().await,
        "outbox-sweeper" => outbox_sweeper::run().await,
        "provisioning-ack" => provisioning_ack::run().await,
        "admin" => admin::run().await,
        "me-activity" => me_activity::run().await,
        "login-mfa" => login_mfa::run().await,
        "totp-enroll" => totp_enroll::run().await,
        "totp-confirm" => totp_confirm::run().await,
        "totp-disable" => totp_disable::run().await,
        "totp-recovery-codes" => totp_recovery_codes::run().await,
        "passkey-options" => passkey_options::run().await,
        "passkey-add" => passkey_add::run().await,
        "passkeys-list" => passkeys_list::run().await,
        "passkey-rename" => passkey_rename::run().await,
        "passkey-delete" => passkey_delete::run().await,
        "login-passkey-options" => login_passkey_options::run().await,
        "login-passkey" => login_passkey::run().await,
        "oauth-start" => oauth_start::run().await,
        "oauth-callback" => oauth_callback::run().await,
        "login-provider" => login_provider::run().await,
        "provider-link" => provider_link::run().await,
        "provider-unlink" => provider_unlink::run().await,
        other => Err(format!(
            "no function is named {other:?}: the function's Handler must name one (see the Makefile)"
        )
        .into()),
    }
}
