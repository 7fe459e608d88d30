# The two commands: `make dev` runs the API locally, `make test` runs every check and test.
# `make bench` measures (release builds; not part of the tests) and writes BENCHMARKS.md.
# `sam build` runs the build-<LogicalId> targets further down; they are not for direct use.
.PHONY: dev test bench

dev:
	bash scripts/dev.sh

test:
	bash scripts/test.sh

bench:
	bash scripts/bench.sh

# ---- sam build (template.yaml: Metadata: BuildMethod: makefile) ----------------------------
#
# Every function in template.yaml (its logical id) and the workspace binary it runs, which is
# also the package under functions/ that holds it. This list is the only place the two are
# paired: the build targets come from it, and tests/integration/routes.rs checks it against
# template.yaml, the workspace members and the local router.
LAMBDA_FUNCTIONS := \
	RegisterFunction=register \
	ConfirmFunction=confirm \
	DeclineFunction=decline \
	ResendCodeFunction=resend-code \
	LoginFunction=login \
	LoginOtpFunction=login-otp \
	TokenFunction=token \
	LogoutFunction=logout \
	PasswordForgotFunction=password-forgot \
	PasswordResetFunction=password-reset \
	PasswordChangeFunction=password-change \
	SessionsListFunction=sessions-list \
	MeActivityFunction=me-activity \
	SessionRevokeFunction=session-revoke \
	SessionsRevokeAllFunction=sessions-revoke-all \
	MeFunction=me \
	MeIdentifierFunction=me-identifier \
	MeIdentifierConfirmFunction=me-identifier-confirm \
	MeDeleteFunction=me-delete \
	WellKnownFunction=well-known \
	UserEventsFunction=user-events \
	ResetSenderFunction=reset-sender \
	OutboxSweeperFunction=outbox-sweeper \
	ProvisioningAckFunction=provisioning-ack \
	AdminFunction=admin \
	LoginMfaFunction=login-mfa \
	TotpEnrollFunction=totp-enroll \
	TotpConfirmFunction=totp-confirm \
	TotpDisableFunction=totp-disable \
	TotpRecoveryCodesFunction=totp-recovery-codes \
	PasskeyOptionsFunction=passkey-options \
	PasskeyAddFunction=passkey-add \
	PasskeysListFunction=passkeys-list \
	PasskeyRenameFunction=passkey-rename \
	PasskeyDeleteFunction=passkey-delete \
	LoginPasskeyOptionsFunction=login-passkey-options \
	LoginPasskeyFunction=login-passkey \
	OAuthStartFunction=oauth-start \
	OAuthCallbackFunction=oauth-callback \
	LoginProviderFunction=login-provider \
	ProviderLinkFunction=provider-link \
	ProviderUnlinkFunction=provider-unlink

# cargo's own default; a CARGO_TARGET_DIR in the environment wins, as it does for cargo.
CARGO_TARGET_DIR ?= target
# cargo-lambda as scripts/tools.sh installs it (AUTH_TOOLS_DIR as there). Its venv's bin goes
# first on PATH for the build only: its python3 carries the Zig that cross-links for arm64.
AUTH_TOOLS_DIR ?= $(HOME)/.cache/auth-service/tools
CARGO_LAMBDA_BIN_DIR ?= $(AUTH_TOOLS_DIR)/cargo-lambda/bin

lambda_id = $(firstword $(subst =, ,$(1)))
lambda_binary = $(lastword $(subst =, ,$(1)))
binary_of = $(call lambda_binary,$(filter $(1)=%,$(LAMBDA_FUNCTIONS)))
LAMBDA_BUILD_TARGETS := $(foreach f,$(LAMBDA_FUNCTIONS),build-$(call lambda_id,$(f)))

.PHONY: lambda-release $(LAMBDA_BUILD_TARGETS)

# One release build for arm64 of the one bootstrap every function deploys (bootstrap/: it
# runs the function its Handler names, built with that function's capabilities only): one
# fat-LTO link instead of one per function. SAM runs `make build-<LogicalId>` once per
# function, a new make each time, so this runs before every copy: the first run compiles
# everything, and the others find it up to date in a second or two.
lambda-release:
	PATH="$(CARGO_LAMBDA_BIN_DIR):$$PATH" CARGO_TARGET_DIR="$(CARGO_TARGET_DIR)" \
		cargo lambda build --release --arm64 -p auth-bootstrap

# ARTIFACTS_DIR is the function's directory under .aws-sam/build, set by sam build. Every
# function gets the same bootstrap; its Handler (the binary's name here) picks what runs.
$(LAMBDA_BUILD_TARGETS): build-%: lambda-release
	@test -n "$(ARTIFACTS_DIR)" || { echo "$@: ARTIFACTS_DIR is unset; run sam build" >&2; exit 1; }
	@test -n "$(call binary_of,$*)" || { echo "$@: $* is not in LAMBDA_FUNCTIONS" >&2; exit 1; }
	cp "$(CARGO_TARGET_DIR)/lambda/bootstrap/bootstrap" "$(ARTIFACTS_DIR)/bootstrap"
