// The reference web app: every screen a user of auth-service needs, on the TypeScript client.
// No framework: each route renders a small form into <main>; messages go to live regions
// (#status polite, #error assertive), and focus moves to the new screen's heading.
import { AuthClient, AuthError, passkeys, readProviderReturn } from "/client/index.js";
import qrcode from "/vendor/qrcode.mjs";

// Set by /config.js (a script, so the page's connect-src can name the API's origin alone).
const config = globalThis.AUTH_SERVICE_CONFIG;
const auth = new AuthClient({ baseUrl: config.apiUrl });
const main = document.getElementById("main");
const statusLine = document.getElementById("status");
const errorLine = document.getElementById("error");

const MESSAGES = {
  invalid_request: "Something in the form is not right.",
  invalid_email: "That email address is not valid.",
  invalid_phone: "That phone number is not valid for SMS.",
  password_mismatch: "The two passwords differ.",
  weak_password: "Choose a password of 8 to 128 characters that is not a common one.",
  user_exists: "An account already uses this.",
  delivery_failed: "The code could not be sent. Try again.",
  invalid_code: "That code is not valid any more. Ask for a new one.",
  already_verified: "Already confirmed: sign in.",
  too_many_attempts: "Too many wrong codes. Ask for a new one.",
  user_not_found: "No account uses this.",
  invalid_credentials: "Wrong email, phone or password.",
  account_disabled: "This account is disabled. Contact support.",
  rate_limited: "Too many tries. Wait a moment.",
  invalid_token: "Your session has ended. Sign in again.",
  session_not_found: "That session has already ended.",
  network_error: "The service cannot be reached.",
  invalid_challenge: "That sign-in has expired. Sign in again.",
  invalid_credential: "That passkey was not accepted (it may have been removed from its account).",
  reauthentication_required: "For this, enter your password.",
  totp_already_enabled: "An authenticator app is already on.",
  totp_not_enabled: "No authenticator app is on.",
  passkey_not_found: "That passkey has already been removed.",
  too_many_passkeys: "You have 10 passkeys, the most an account may have. Remove one first.",
  provider_not_found: "That provider is not one this service signs in with.",
  invalid_redirect_uri: "This page is not one the service may send you back to.",
  provider_already_linked: "Your account already has an identity of that provider.",
  provider_not_linked: "That provider is not linked to your account.",
  last_sign_in_method: "It is the only way you sign in: add a passkey or set a password (Forgot your password?) first.",
};

// The other providers configured (by name), and how the pages name them.
const PROVIDERS = config.providers ?? [];
const PROVIDER_LABELS = { google: "Google", apple: "Apple", github: "GitHub", microsoft: "Microsoft", local: "the local provider" };
function providerLabel(name) {
  return PROVIDER_LABELS[name] ?? capital(name);
}

function capital(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

// What a provider's flow can send back in the fragment (`#error=…&provider=…`).
const PROVIDER_ERRORS = {
  access_denied: (p) => `You did not allow the sign-in at ${p}.`,
  provider_error: (p) => `${capital(p)} did not answer as expected. Try again.`,
  provider_unavailable: (p) => `${capital(p)} cannot be reached right now. Try again later.`,
  account_exists: (p) => `An account already uses the email ${p} gave. Sign in to it (or reset its password), then link ${p} from your account page.`,
  email_not_verified: (p) => `${capital(p)} did not vouch for an email address, so no account can be made with it. Sign up with your email instead.`,
  identity_in_use: (p) => `That ${p} account already signs in to another account here.`,
  provider_already_linked: (p) => `Your account already has a ${p} identity linked.`,
};

// What the browser's WebAuthn prompt rejects with (DOMException names).
const BROWSER_MESSAGES = {
  NotAllowedError: "The passkey prompt was closed or timed out.",
  AbortError: "The passkey prompt was cancelled.",
  InvalidStateError: "This device already holds a passkey for your account.",
  NotSupportedError: "This browser cannot use passkeys.",
  SecurityError: "Passkeys work only on this site's own address.",
};

function say(text) {
  errorLine.textContent = "";
  statusLine.textContent = text;
}

function sayError(text) {
  statusLine.textContent = "";
  errorLine.textContent = text;
}

function fail(error) {
  if (error instanceof AuthError) {
    const wait = error.retryAfter ? ` (retry in ${error.retryAfter} s)` : "";
    sayError((MESSAGES[error.code] ?? "Something went wrong. Try again.") + wait);
    if (error.code === "invalid_token") go("/signin");
    // Disabled: the client has forgotten the session (a bearer route's 403 ended it), so the
    // sign-in page shows the reason and does not send the user back here. The sign-in form
    // itself stays as typed.
    else if (error.code === "account_disabled" && !main.querySelector("form[aria-label='Sign in']")) go("/signin");
  } else if (error instanceof DOMException && BROWSER_MESSAGES[error.name]) {
    sayError(BROWSER_MESSAGES[error.name]);
  } else {
    sayError("Something went wrong. Try again.");
    console.error(error);
  }
}

/** The outcome a provider's flow put in the fragment; null when there is none. A refusal is
 * said in the alert region. */
function providerReturn(link) {
  const returned = readProviderReturn(link.toString());
  if (returned && "error" in returned) {
    const label = providerLabel(returned.provider);
    sayError((PROVIDER_ERRORS[returned.error] ?? PROVIDER_ERRORS.provider_error)(label));
  }
  return returned;
}

function h(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== false && value !== undefined) node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...children.flat().filter((c) => c !== null && c !== undefined));
  return node;
}

function field(label, name, attributes = {}) {
  return h("label", {}, label, h("input", { name, required: true, ...attributes }));
}

/** A form whose submit runs `action` with its values, the button disabled meanwhile. */
function form(name, fields, submit, action) {
  const button = h("button", { type: "submit" }, submit);
  const node = h("form", { "aria-label": name }, ...fields, button);
  node.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    try {
      await action(Object.fromEntries(new FormData(node)));
    } catch (error) {
      fail(error);
    } finally {
      button.disabled = false;
    }
  });
  return node;
}

/** A button that runs `action`, disabled meanwhile; a failure goes to the alert region. */
function button(label, action, attributes = {}) {
  const node = h("button", { type: "button", ...attributes }, label);
  node.addEventListener("click", async () => {
    node.disabled = true;
    try {
      await action();
    } catch (error) {
      fail(error);
    } finally {
      node.disabled = false;
    }
  });
  return node;
}

function when(timestamp) {
  return h("time", { datetime: timestamp }, new Date(timestamp).toLocaleString());
}

function screen(title, ...content) {
  // A section left out (`cond ? node : null`) is no node, not the text "null".
  main.replaceChildren(h("h1", { tabindex: "-1" }, title), ...content.filter((c) => c !== null && c !== undefined));
  main.querySelector("h1").focus();
}

function go(path) {
  history.pushState({}, "", path);
  route();
}

/** email or phone, from a form with a `kind` choice and an `identifier` field. */
function identifierOf(values) {
  return values.kind === "phone" ? { phone: values.identifier } : { email: values.identifier };
}

function identifierFields() {
  return [
    h("fieldset", {},
      h("legend", {}, "Sign in with"),
      h("label", {}, h("input", { type: "radio", name: "kind", value: "email", checked: true }), " Email"),
      h("label", {}, h("input", { type: "radio", name: "kind", value: "phone" }), " Phone (SMS)")),
    field("Email or phone", "identifier", { autocomplete: "username" }),
  ];
}

/** A resend button that counts down the seconds a 429's Retry-After asks for. */
function resendButton(identifier) {
  const button = h("button", { type: "button", class: "secondary" }, "Send a new code");
  button.addEventListener("click", async () => {
    try {
      await auth.resendCode(identifier);
      say("A new code is on its way.");
    } catch (error) {
      fail(error);
      if (error instanceof AuthError && error.retryAfter) countdown(button, error.retryAfter);
    }
  });
  return button;
}

function countdown(button, seconds) {
  const label = button.textContent;
  button.disabled = true;
  const tick = () => {
    if (seconds <= 0) {
      button.disabled = false;
      button.textContent = label;
      return;
    }
    button.textContent = `${label} (${seconds} s)`;
    seconds -= 1;
    setTimeout(tick, 1000);
  };
  tick();
}

function smsCodeForm(phone, action) {
  return form("SMS code", [field("The 6-digit code we texted you", "code", { inputmode: "numeric", autocomplete: "one-time-code", pattern: "[0-9]{6}" })],
    "Confirm", (values) => action(values.code, phone));
}

const routes = [
  [/^\/$/, () => (auth.signedIn ? account() : signUp())],
  [/^\/signup$/, signUp],
  [/^\/signin$/, signIn],
  [/^\/forgot$/, forgot],
  [/^\/account$/, account],
  [/^\/confirm$/, (link) => confirmLink(link.get("code"), link.get("email"))],
  [/^\/reset$/, (link) => resetForm(link.get("code"))],
  [/^\/me\/identifier$/, (link) => confirmNewEmail(link.get("code"))],
];

// What a mailed link carries in its fragment (#code=…&email=…), read once: the fragment is
// then dropped from the address bar and the history, so the code stays in neither.
let linkFragment = new URLSearchParams(location.hash.slice(1));
if (location.hash) history.replaceState(history.state, "", location.pathname + location.search);

function route() {
  const link = linkFragment;
  linkFragment = new URLSearchParams();
  for (const [pattern, render] of routes) {
    if (pattern.test(location.pathname)) return render(link);
  }
  screen("Not found", h("p", {}, h("a", { href: "/" }, "Start")));
}

/** A page a mailed link opens, without its code (an old tab, a copied address). */
function linkUsed() {
  screen("This link has been used", h("p", {}, "Open the link from the message again, or ", h("a", { href: "/signin" }, "sign in"), "."));
}

function signUp() {
  screen("Create an account",
    form("Sign up", [
      ...identifierFields(),
      field("Password", "password", { type: "password", autocomplete: "new-password", minlength: "8", maxlength: "128" }),
      field("Repeat the password", "repeat_password", { type: "password", autocomplete: "new-password" }),
    ], "Sign up", async (values) => {
      const identifier = identifierOf(values);
      const registered = await auth.register({ ...identifier, password: values.password, repeat_password: values.repeat_password });
      if (registered.channel === "sms") {
        screen("Enter the code", smsCodeForm(identifier.phone, async (code, phone) => {
          await auth.confirmRegistration(code, phone);
          say("Phone confirmed. You are signed in.");
          go("/account");
        }), resendButton(identifier));
        say("We texted you a 6-digit code.");
      } else {
        screen("Check your email", h("p", {}, `We sent a link to ${identifier.email}. Open it to confirm your address.`), resendButton(identifier));
        say("Confirmation link sent.");
      }
    }),
    h("p", {}, "Already have an account? ", h("a", { href: "/signin" }, "Sign in")));
}

/**
 * The page the confirmation mail links to. Opening it confirms nothing (mail scanners open
 * links): it shows the address and waits for the person's click, to confirm or to say that
 * they did not sign up, which deletes the account someone else made with their address.
 */
function confirmLink(code, email) {
  if (!code) return linkUsed();
  const who = email ? h("strong", {}, email) : "this email address";
  const act = (label, kind, action) => h("button", { type: "button", class: kind, onclick: async (event) => {
    event.target.disabled = true;
    try { await action(); } catch (error) { fail(error); } finally { event.target.disabled = false; }
  } }, label);
  screen("Confirm your email address",
    h("p", {}, "An account was created for ", who, ". Was it you?"),
    h("p", { class: "actions" },
      act("Yes, confirm my email", "", async () => {
        await auth.confirmRegistration(code);
        say("Email confirmed. You are signed in.");
        go("/account");
      }),
      " ",
      act("I did not sign up", "secondary", async () => {
        await auth.declineRegistration(code);
        screen("Account removed", h("p", {}, "Thank you. The account made with ", who, " is deleted, and nobody can sign in with it. You may ", h("a", { href: "/signup" }, "sign up"), " with it yourself."));
        say("The account was removed.");
      })));
}

/** The sign-in page; also where a sign-in with another provider comes back to (`#code=…` to
 * trade for a session, or `#error=…`). */
function signIn(link = new URLSearchParams()) {
  const returned = providerReturn(link);
  if (returned && "code" in returned) return finishProviderSignIn(returned.code);
  screen("Sign in",
    form("Sign in", [
      ...identifierFields(),
      field("Password", "password", { type: "password", autocomplete: "current-password" }),
    ], "Sign in", async (values) => {
      const identifier = identifierOf(values);
      try {
        await auth.login({ ...identifier, password: values.password });
        say("Signed in.");
        go("/account");
      } catch (error) {
        if (error instanceof AuthError && error.code === "mfa_required") return secondFactor(error);
        if (!(error instanceof AuthError) || error.code !== "verification_required") throw error;
        const where = error.channel === "sms" ? "texted you" : "emailed you";
        screen("One more step", h("p", {}, `Your ${error.channel === "sms" ? "phone" : "email"} is not confirmed yet: we ${where} a 6-digit code.`),
          form("Sign-in code", [field("Code", "otp", { inputmode: "numeric", autocomplete: "one-time-code", pattern: "[0-9]{6}" })], "Sign in", async (otp) => {
            await auth.loginWithOtp({ challenge_id: error.challengeId, otp: otp.otp });
            say("Confirmed and signed in.");
            go("/account");
          }));
      }
    }),
    passkeys.supported() ? h("p", {}, button("Sign in with a passkey", async () => {
      await passkeys.signIn(auth);
      say("Signed in with your passkey.");
      go("/account");
    }, { class: "secondary" })) : null,
    PROVIDERS.length ? h("p", { class: "actions" }, PROVIDERS.map((name) =>
      button(`Continue with ${providerLabel(name)}`, async () => {
        location.assign(auth.startProviderSignIn(name, `${location.origin}/signin`));
      }, { class: "secondary" }))) : null,
    h("p", {}, h("a", { href: "/forgot" }, "Forgot your password?"), " · ", h("a", { href: "/signup" }, "Create an account")));
}

/** Trades the one-time code a provider's sign-in sent back for a session. */
async function finishProviderSignIn(code) {
  screen("Signing you in…");
  try {
    await auth.finishProviderSignIn(code);
    say("Signed in.");
    go("/account");
  } catch (error) {
    if (error instanceof AuthError && error.code === "mfa_required") return secondFactor(error);
    signIn();
    if (error instanceof AuthError && error.code === "invalid_code") sayError("That sign-in has expired. Try again.");
    else fail(error);
  }
}

/** The step after a right password (or a reset) on an account with a second factor: one of
 * its passkeys, the authenticator app's current code, or one of the recovery codes. */
function secondFactor(error, done = "Signed in.") {
  const methods = error.methods ?? [];
  const signedIn = () => {
    say(done);
    go("/account");
  };
  const finish = async (factor) => {
    await auth.loginWithSecondFactor({ challenge_id: error.challengeId, ...factor });
    signedIn();
  };
  const withPasskey = async () => {
    await passkeys.secondFactor(auth, error);
    signedIn();
  };
  // Every screen of this step offers the account's other ways.
  const others = (current) => {
    const ways = [
      current !== "passkey" && methods.includes("passkey") ? button("Use a passkey", withPasskey, { class: "secondary" }) : null,
      current !== "totp" && methods.includes("totp") ? button("Use the authenticator app instead", async () => byCode(), { class: "secondary" }) : null,
      current !== "recovery_code" && methods.includes("recovery_code") ? button("Use a recovery code instead", async () => byRecoveryCode(), { class: "secondary" }) : null,
    ].filter(Boolean);
    return ways.length ? h("p", { class: "actions" }, ways) : null;
  };
  const byPasskey = () => screen("Use your passkey",
    h("p", {}, "Your account asks for one of its passkeys after the password."),
    h("p", {}, button("Use a passkey", withPasskey)),
    others("passkey"));
  const byCode = () => screen("Enter the code from your authenticator app",
    form("Authenticator code", [field("6-digit code", "totp", { inputmode: "numeric", autocomplete: "one-time-code", pattern: "[0-9]{6}" })],
      "Sign in", (values) => finish({ totp: values.totp })),
    others("totp"));
  const byRecoveryCode = () => screen("Enter a recovery code",
    form("Sign in with a recovery code", [field("Recovery code", "recovery_code", { autocomplete: "off", spellcheck: "false" })],
      "Sign in", (values) => finish({ recovery_code: values.recovery_code })),
    h("p", { class: "hint" }, "Each recovery code works once."),
    others("recovery_code"));
  // A passkey first where the browser can use one; the app's code before recovery codes.
  if (methods.includes("passkey") && (passkeys.supported() || !methods.includes("totp"))) byPasskey();
  else if (methods.includes("totp")) byCode();
  else byRecoveryCode();
}

function forgot() {
  screen("Reset your password",
    form("Forgot password", identifierFields(), "Send a reset code", async (values) => {
      const identifier = identifierOf(values);
      await auth.forgotPassword(identifier);
      if (identifier.phone) {
        screen("Choose a new password", resetForm(null, identifier.phone, true));
        say("If an account uses that number, we texted it a code.");
      } else {
        screen("Check your email", h("p", {}, "If an account uses that address, we sent it a link to choose a new password."));
        say("Reset link sent if the account exists.");
      }
    }));
}

function resetForm(code, phone, inline = false) {
  if (code === null && !inline) return linkUsed();
  const fields = [
    code === null ? field("The 6-digit code", "code", { inputmode: "numeric", autocomplete: "one-time-code" }) : null,
    field("New password", "password", { type: "password", autocomplete: "new-password", minlength: "8", maxlength: "128" }),
    field("Repeat the new password", "repeat_password", { type: "password", autocomplete: "new-password" }),
  ];
  const node = form("New password", fields, "Set the new password", async (values) => {
    try {
      await auth.resetPassword({ code: code ?? values.code, password: values.password, repeat_password: values.repeat_password, ...(phone ? { phone } : {}) });
    } catch (error) {
      // The password is changed; the account's second factor still signs in.
      if (error instanceof AuthError && error.code === "mfa_required") return secondFactor(error, "Password changed. Every other session has ended; you are signed in.");
      throw error;
    }
    say("Password changed. Every other session has ended; you are signed in.");
    go("/account");
  });
  if (inline) return node;
  screen("Choose a new password", node);
}

async function confirmNewEmail(code) {
  if (!code) return linkUsed();
  screen("Confirming your new email…");
  try {
    const changed = await auth.confirmIdentifierChange(code);
    say(`You now sign in with ${changed.email}.`);
    go("/account");
  } catch (error) {
    fail(error);
  }
}

/** The account page; also where linking another provider comes back to (`#linked=…` or
 * `#error=…`). */
async function account(link = new URLSearchParams()) {
  if (!auth.signedIn) return go("/signin");
  const returned = providerReturn(link);
  if (returned && "linked" in returned) say(`${capital(providerLabel(returned.linked))} is linked: it signs you in to this account from now on.`);
  screen("Your account", h("p", {}, "Loading…"));
  try {
    const [me, sessions, keys] = await Promise.all([auth.getMe(), auth.listSessions(), auth.listPasskeys()]);
    const rows = sessions.map((s) =>
      h("tr", {},
        h("td", {}, s.user_agent ?? "unknown device", s.current ? h("strong", {}, " (this one)") : null),
        h("td", {}, s.ip ?? ""),
        h("td", {}, h("time", { datetime: s.last_used_at }, new Date(s.last_used_at).toLocaleString())),
        h("td", {}, s.current ? "" : h("button", { type: "button", class: "secondary", "aria-label": `Revoke the session of ${s.user_agent ?? "unknown device"}`, onclick: async () => {
          try { await auth.revokeSession(s.id); say("Session revoked."); account(); } catch (error) { fail(error); }
        } }, "Revoke"))));
    accountHasPassword = me.has_password;
    const passwordSection = me.has_password ? [
      h("h2", {}, "Change password"),
      form("Change password", [
        field("Current password", "current_password", { type: "password", autocomplete: "current-password" }),
        field("New password", "password", { type: "password", autocomplete: "new-password", minlength: "8", maxlength: "128" }),
        field("Repeat the new password", "repeat_password", { type: "password", autocomplete: "new-password" }),
      ], "Change password", async (values) => {
        await auth.changePassword(values);
        say("Password changed. Every other session has ended.");
        account();
      }),
    ] : [
      h("h2", {}, "Set a password"),
      h("p", {}, "Your account has no password: you sign in with ", me.providers.map(providerLabel).join(" or "),
        ". Changing your email or phone and deleting the account ask for one. To set it, use ",
        h("a", { href: "/forgot" }, "Forgot your password?"), ": we send you a link."),
    ];
    const activity = activitySection();
    screen("Your account",
      h("p", { id: "who" }, `Signed in as ${me.email ?? me.phone}`, me.verified ? "" : " (not confirmed)"),
      provisioningNote(me),
      h("h2", {}, "Sessions"),
      h("table", {}, h("caption", { class: "hint" }, "Where you are signed in, newest first"),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Device"), h("th", { scope: "col" }, "IP"), h("th", { scope: "col" }, "Last used"), h("th", { scope: "col" }, h("span", { class: "hint" }, "Action")))),
        h("tbody", {}, rows)),
      h("button", { type: "button", id: "everywhere", onclick: async () => {
        try { await auth.revokeAllSessions(); say("Signed out everywhere."); go("/signin"); } catch (error) { fail(error); }
      } }, "Sign out everywhere"),
      ...activity.nodes,
      h("h2", {}, "Passkeys"),
      ...passkeySection(keys),
      h("h2", {}, "Authenticator app"),
      ...authenticatorSection(me),
      ...providerSection(me),
      ...passwordSection,
      h("h2", {}, "Change your email or phone"),
      form("Change email or phone", [
        ...identifierFields(),
        field("Your password", "password", { type: "password", autocomplete: "current-password" }),
      ], "Send a code to it", async (values) => {
        const identifier = identifierOf(values);
        await auth.requestIdentifierChange({ ...identifier, password: values.password });
        if (identifier.phone) {
          screen("Confirm your new phone", smsCodeForm(identifier.phone, async (code, phone) => {
            await auth.confirmIdentifierChange(code, phone);
            say(`You now sign in with ${phone}.`);
            go("/account");
          }));
          say("We texted a code to the new number.");
        } else {
          say(`We sent a link to ${identifier.email}; open it here to make the change.`);
        }
      }),
      h("p", {}, h("button", { type: "button", class: "secondary", onclick: async () => {
        try { await auth.logout(); say("Signed out."); go("/signin"); } catch (error) { fail(error); }
      } }, "Sign out")),
      h("h2", {}, "Delete your account"),
      form("Delete account", [
        field("Your password", "password", { type: "password", autocomplete: "current-password" }),
      ], "Delete my account", async (values) => {
        if (!confirm("Delete your account for good?")) return;
        await auth.deleteMe(values.password);
        say("Your account is deleted.");
        go("/signup");
      }));
    await activity.start();
  } catch (error) {
    fail(error);
  }
}

/** "Setting up your account…" while a service that acknowledges new users has not yet
 * (GET /me's provisioning), asked again every 2 seconds for up to 2 minutes; then "Your account
 * is ready." An account that was ready when the page opened shows nothing. */
function provisioningNote(me) {
  const node = h("p", { id: "provisioning", role: "status" });
  const waiting = (provisioning) => Object.values(provisioning ?? {}).filter((status) => status !== "created");
  const show = (provisioning) => {
    const left = waiting(provisioning);
    node.textContent = !left.length ? "Your account is ready."
      : left.includes("failed") ? "Setting up your account… One of our services had a problem and will try again."
        : "Setting up your account…";
    return !left.length;
  };
  if (!waiting(me.provisioning).length) return node;
  show(me.provisioning);
  const started = Date.now();
  const poll = async () => {
    if (!node.isConnected) return;
    if (Date.now() - started > 120_000) {
      node.textContent = "Your account is still being set up. This can take a few minutes; you can go on meanwhile.";
      return;
    }
    let done = false;
    try { done = show((await auth.getMe()).provisioning); } catch { /* asked again below */ }
    if (!done) setTimeout(poll, 2000);
  };
  setTimeout(poll, 2000);
  return node;
}

/** The other providers: each configured one, linked or not, with Link or Unlink. */
function providerSection(me) {
  const names = [...new Set([...PROVIDERS, ...me.providers])];
  if (!names.length) return [];
  const rows = names.map((name) => {
    const label = providerLabel(name);
    const linked = me.providers.includes(name);
    return h("tr", {},
      h("th", { scope: "row" }, capital(label)),
      h("td", {}, linked ? "Linked: it signs you in" : "Not linked"),
      h("td", {}, linked
        ? button("Unlink", async () => unlinkProvider(name), { class: "secondary", "aria-label": `Unlink ${label}` })
        : button("Link", async () => linkProvider(name), { class: "secondary", "aria-label": `Link ${label}` })));
  });
  return [
    h("h2", {}, "Other ways to sign in"),
    h("table", { "aria-label": "Providers" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Provider"), h("th", { scope: "col" }, "Status"), h("th", { scope: "col" }, h("span", { class: "hint" }, "Action")))),
      h("tbody", {}, rows)),
  ];
}

// The audit trail's events (`GET /me/activity`) in plain words; an event not listed here is
// shown by its name.
const ACTIVITY = {
  signed_in: (a) => `Signed in ${signInWay(a.amr)}`.trim(),
  sign_in_failed: () => "A sign-in failed: wrong password",
  password_changed: () => "Password changed",
  password_reset: () => "Password reset",
  sessions_ended: () => "Signed out everywhere",
  session_revoked: () => "A session was ended",
  totp_enabled: () => "Authenticator app turned on",
  totp_disabled: () => "Authenticator app turned off",
  recovery_codes_replaced: () => "New recovery codes made",
  recovery_code_used: () => "A recovery code was used",
  passkey_added: (a) => (a.detail ? `Passkey "${a.detail}" added` : "Passkey added"),
  passkey_removed: (a) => (a.detail ? `Passkey "${a.detail}" removed` : "Passkey removed"),
  provider_linked: (a) => `${capital(providerLabel(a.detail ?? "another provider"))} linked`,
  provider_unlinked: (a) => `${capital(providerLabel(a.detail ?? "another provider"))} unlinked`,
  identifier_changed: (a) => ({ email: "You now sign in with a new email address", phone: "You now sign in with a new phone number" })[a.detail] ?? "Email or phone changed",
  account_disabled: () => "Account disabled",
  account_enabled: () => "Account enabled",
  operator_action: (a) => OPERATOR_ACTIONS[a.detail]
    ?? (a.detail?.startsWith("replay to ") ? "Your account's updates sent again to one of our services" : "Account looked after by support"),
};
const OPERATOR_ACTIONS = {
  unlock: "Sign-in lock cleared",
  "reset-password": "Password reset link sent",
  show: "Account looked up by support",
  sessions: "Sessions looked up by support",
  activity: "Activity looked up by support",
  export: "Account data exported",
};
// How a sign-in proved who the user is, from its `amr` (RFC 8176) in order.
const SIGN_IN_WAYS = { pwd: "your password", hwk: "a passkey", swk: "a passkey", fed: "another provider", sms: "a code we texted you", otp: "a link or code we emailed you" };

function signInWay(amr = []) {
  const ways = amr.map((method, i) =>
    // A code followed by `mfa` is the second factor: the authenticator app or a recovery code.
    method === "otp" && amr[i + 1] === "mfa" ? "a code from your authenticator app or a recovery code" : SIGN_IN_WAYS[method])
    .filter((way, i, all) => way && all.indexOf(way) === i);
  return ways.length ? `with ${ways.join(" and ")}` : "";
}

function activityRow(record) {
  const what = (ACTIVITY[record.event] ?? (() => record.event))(record);
  const where = [record.ip, record.user_agent].filter(Boolean);
  return h("tr", {},
    h("td", {}, when(record.at)),
    h("td", {}, what, record.actor ? " by an operator" : ""),
    h("td", {}, where.length ? where.flatMap((part, i) => (i ? [h("br"), h("span", { class: "hint" }, part)] : [part])) : h("span", { class: "hint" }, "Not recorded")));
}

/** "Recent activity": the newest records of the audit trail in a table, and "Show more" for
 * older ones while there are. Loaded after the rest of the page, so a failure here leaves
 * the rest of the account page working. */
const ACTIVITY_PAGE = 10;
function activitySection() {
  const rows = h("tbody", {});
  const table = h("table", { "aria-label": "Recent activity", tabindex: "-1" },
    h("caption", { class: "hint" }, "What happened to your account, newest first"),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "When"), h("th", { scope: "col" }, "What"), h("th", { scope: "col" }, "From where"))),
    rows);
  const place = h("div", { id: "activity" }, h("p", {}, "Loading your recent activity…"));
  let cursor;
  const load = async () => {
    const page = await auth.listActivity({ limit: ACTIVITY_PAGE, ...(cursor ? { cursor } : {}) });
    rows.append(...page.activity.map(activityRow));
    cursor = page.next_cursor;
    more.hidden = !cursor;
    return page.activity.length;
  };
  const more = button("Show more", async () => {
    const added = await load();
    say(`${added} earlier ${added === 1 ? "event" : "events"} shown${cursor ? "" : "; that is all"}.`);
    // The button is gone after the last page: keep the reader's place on the table.
    if (!cursor) table.focus();
  }, { class: "secondary", hidden: true });
  const start = async () => {
    try {
      await load();
      place.replaceChildren(rows.children.length ? table : h("p", {}, "Nothing yet."), more);
    } catch (error) {
      place.replaceChildren(h("p", {}, "Your recent activity could not be loaded."));
      fail(error);
    }
  };
  return { nodes: [h("h2", {}, "Recent activity"), place], start };
}

/** Off to the provider; it sends the browser back here with `#linked=` or `#error=`. */
function linkProvider(name) {
  return withPassword(`link ${providerLabel(name)}`, async (password) => {
    location.assign(await auth.linkProvider(name, `${location.origin}/account`, password));
  });
}

function unlinkProvider(name) {
  return withPassword(`unlink ${providerLabel(name)}`, async (password) => {
    await auth.unlinkProvider(name, password);
    say(`${capital(providerLabel(name))} no longer signs you in.`);
    go("/account");
  });
}

// Whether the signed-in account has a password (one a provider made has none until a reset).
let accountHasPassword = true;

/** Runs a sensitive change; when the service asks for the password (the sign-in is over 10
 * minutes old), asks for it and runs the change again with it (an account without a password
 * signs in again instead). */
async function withPassword(purpose, change) {
  try {
    await change(undefined);
  } catch (error) {
    if (!(error instanceof AuthError) || error.code !== "reauthentication_required") throw error;
    if (!accountHasPassword) {
      screen("Sign in again",
        h("p", {}, `You signed in over 10 minutes ago. Sign in again to ${purpose}.`),
        h("p", {}, button("Sign in again", async () => {
          await auth.logout();
          go("/signin");
        })));
      return;
    }
    screen("Confirm it is you",
      form("Password", [field("Your password", "password", { type: "password", autocomplete: "current-password" })],
        "Continue", (values) => change(values.password)));
    say(`Enter your password to ${purpose}.`);
  }
}

function passkeySection(keys) {
  const rows = keys.map((key) =>
    h("tr", {},
      h("th", { scope: "row" }, key.name),
      h("td", {}, when(key.created_at)),
      h("td", {}, key.last_used_at ? when(key.last_used_at) : "Never"),
      h("td", {},
        button("Rename", async () => renamePasskey(key), { class: "secondary", "aria-label": `Rename the passkey ${key.name}` }),
        " ",
        button("Remove", async () => removePasskey(key), { class: "secondary", "aria-label": `Remove the passkey ${key.name}` }))));
  const list = keys.length
    ? h("table", { "aria-label": "Passkeys" }, h("caption", { class: "hint" }, "The passkeys that sign you in, oldest first"),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Name"), h("th", { scope: "col" }, "Added"), h("th", { scope: "col" }, "Last used"), h("th", { scope: "col" }, h("span", { class: "hint" }, "Actions")))),
      h("tbody", {}, rows))
    : h("p", {}, "None yet. A passkey signs you in with this device's screen lock, a phone or a security key: nothing to type, and nothing a fake site can reuse.");
  if (!passkeys.supported()) return [list, h("p", { class: "hint" }, "This browser cannot use passkeys.")];
  return [
    list,
    form("Add a passkey", [field("Name (optional)", "name", { required: false, maxlength: "64", autocomplete: "off", placeholder: "e.g. Work laptop" })],
      "Add a passkey", (values) => addPasskey(values.name.trim() || undefined)),
  ];
}

/** The browser makes the passkey (the device asks for its screen lock), then the service
 * keeps it; the password first when the service asks for it. */
function addPasskey(name) {
  return withPassword("add a passkey", async (password) => {
    const added = await passkeys.register(auth, { ...(name ? { name } : {}), ...(password ? { password } : {}) });
    say(`Passkey "${added.name}" added: it signs you in from now on.`);
    go("/account");
  });
}

function renamePasskey(key) {
  screen("Rename the passkey",
    form("Rename the passkey", [field("Name", "name", { value: key.name, maxlength: "64", autocomplete: "off" })],
      "Save", async (values) => {
        await auth.renamePasskey(key.id, values.name.trim());
        say("Passkey renamed.");
        go("/account");
      }),
    h("p", {}, h("a", { href: "/account" }, "Back to your account")));
}

function removePasskey(key) {
  if (!confirm(`Remove the passkey "${key.name}"? It will no longer sign you in.`)) return;
  return withPassword("remove the passkey", async (password) => {
    await auth.removePasskey(key.id, password);
    say("Passkey removed.");
    go("/account");
  });
}

/** Recovery codes, shown once, with the advice to keep them. */
function recoveryCodesList(codes) {
  return [
    h("p", {}, "Keep these recovery codes somewhere safe: each signs you in once if you lose the app. They are shown only now."),
    h("ul", { class: "codes", "aria-label": "Recovery codes" }, codes.map((c) => h("li", {}, h("code", {}, c)))),
  ];
}

function authenticatorSection(me) {
  if (me.mfa.includes("totp")) {
    return [
      h("p", {}, "On: signing in with your password also asks for the app's code."),
      form("New recovery codes", [field("Your password (if you signed in over 10 minutes ago)", "password", { type: "password", autocomplete: "current-password", required: false })],
        "New recovery codes", async (values) => {
          const codes = await auth.replaceRecoveryCodes(values.password || undefined);
          screen("Your new recovery codes", ...recoveryCodesList(codes), h("p", {}, h("a", { href: "/account" }, "Back to your account")));
          say("New recovery codes; the old ones no longer work.");
        }),
      form("Turn off the authenticator app", [
        field("Your password", "password", { type: "password", autocomplete: "current-password" }),
        field("Code from the app", "totp", { inputmode: "numeric", autocomplete: "one-time-code", pattern: "[0-9]{6}" }),
      ], "Turn off", async (values) => {
        await auth.disableTotp(values.password, values.totp);
        say("The authenticator app is off.");
        account();
      }),
    ];
  }
  return [
    h("p", {}, "Off. An authenticator app adds a code to every sign-in with your password."),
    h("button", { type: "button", id: "totp-start", onclick: () => startAuthenticator() }, "Set up an authenticator app"),
  ];
}

/** Starts an enrolment (the password when the sign-in is over 10 minutes old), then shows
 * the QR code and waits for the first code. */
async function startAuthenticator(password) {
  let enrolment;
  try {
    enrolment = await auth.startTotpEnrolment(password);
  } catch (error) {
    if (error instanceof AuthError && error.code === "reauthentication_required") {
      screen("Confirm it is you",
        form("Password", [field("Your password", "password", { type: "password", autocomplete: "current-password" })],
          "Continue", (values) => startAuthenticator(values.password)));
      return say("Enter your password to set up an authenticator app.");
    }
    return fail(error);
  }
  const qr = qrcode(0, "M");
  qr.addData(enrolment.otpauth_uri);
  qr.make();
  screen("Set up your authenticator app",
    h("p", {}, "Scan this QR code with your authenticator app, or type the key in."),
    h("img", { src: qr.createDataURL(4, 4), alt: "QR code of the authenticator key", width: String(qr.getModuleCount() * 4 + 32) }),
    h("p", {}, "Key: ", h("code", { id: "totp-secret" }, enrolment.secret)),
    form("First code", [field("The 6-digit code the app shows", "totp", { inputmode: "numeric", autocomplete: "one-time-code", pattern: "[0-9]{6}" })],
      "Turn on", async (values) => {
        const codes = await auth.confirmTotp(values.totp);
        screen("Authenticator app on", ...recoveryCodesList(codes), h("p", {}, h("a", { href: "/account" }, "Back to your account")));
        say("The authenticator app is on.");
      }));
}

document.addEventListener("click", (event) => {
  const link = event.target.closest("a[href^='/']");
  if (link && !event.defaultPrevented && event.button === 0 && !event.metaKey && !event.ctrlKey) {
    event.preventDefault();
    go(link.getAttribute("href"));
  }
});
window.addEventListener("popstate", route);
route();
