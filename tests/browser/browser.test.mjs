// The reference web app in a real browser: headless Chromium from Debian's package, driven by
// playwright-core (no browser download). Against the `make test` stack (API_URL, MOTO_URL) and
// the web app it serves (WEB_URL): sign up by email, open the mailed link, land signed in;
// sign in on a second page; both pages refresh at once and stay signed in; sign out
// everywhere; an authenticator app; passkeys, made and used by Chromium's virtual
// authenticator; another provider (the local OpenID provider's own login and consent pages);
// the account's recent activity; an account an operator disabled; "setting up your
// account…" until the other services have acknowledged a new user.
// A screenshot of each step goes to SCREENSHOT_DIR.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const { API_URL, MOTO_URL, WEB_URL } = process.env;
const SCREENSHOTS = process.env.SCREENSHOT_DIR ?? "screenshots";
const CHROMIUM = process.env.CHROMIUM_BIN ?? "/usr/bin/chromium";
const PASSWORD = "correct horse battery staple";
assert.ok(API_URL && MOTO_URL && WEB_URL, "run with `make test`, which serves the web app");
mkdirSync(SCREENSHOTS, { recursive: true });

async function mailTo(address) {
  for (let i = 0; i < 50; i++) {
    const data = await (await fetch(`${MOTO_URL}/moto-api/data.json`)).json();
    const mails = (data.ses?.Message ?? []).filter((m) => m.destinations.ToAddresses.includes(address));
    if (mails.length) return mails.at(-1);
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`no mail to ${address}`);
}

/** The confirmation link of a mail, as a browser would follow it. */
function confirmationLink(mail) {
  return mail.body.match(/href="([^"]+\/confirm#code=[^"]+)"/)[1].replaceAll("&amp;", "&");
}

function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

let step = 0;
async function shot(page, name) {
  step += 1;
  await page.screenshot({ path: join(SCREENSHOTS, `${String(step).padStart(2, "0")}-${name}.png`), fullPage: true });
}

test("sign up, confirm by link, two signed-in pages refresh together, sign out everywhere", async () => {
  const browser = await launch();
  try {
    // One context: one browser profile, whose tabs share localStorage and Web Locks.
    const context = await browser.newContext({ userAgent: "browser-test" });
    // Every refresh answer: the refresh token each one handed out.
    const refreshes = [];
    context.on("response", (response) => {
      const request = response.request();
      if (request.method() === "POST" && new URL(request.url()).pathname === "/token") {
        refreshes.push(response.json().then((pair) => pair.refresh_token));
      }
    });
    const traffic = [];
    context.on("response", (r) => traffic.push(`${r.request().method()} ${r.url()} ${r.status()}`));
    context.on("requestfailed", (r) => traffic.push(`${r.method()} ${r.url()} FAILED ${r.failure()?.errorText}`));
    globalThis.traffic = traffic;
    const page = await context.newPage();
    const email = `browser-${crypto.randomUUID()}@example.com`;

    // The store serialises refreshes with the Web Locks API, which this browser has.
    await page.goto(`${WEB_URL}/signup`);
    assert.equal(await page.evaluate(() => typeof navigator.locks?.request), "function");

    // Sign up by email.
    await page.goto(`${WEB_URL}/signup`);
    await page.getByRole("heading", { name: "Create an account", exact: true }).waitFor();
    await page.getByLabel("Email or phone").fill(email);
    await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
    await page.getByLabel("Repeat the password").fill(PASSWORD);
    await shot(page, "sign-up-form");
    await page.getByRole("button", { name: "Sign up" }).click();
    await page.getByRole("heading", { name: "Check your email", exact: true }).waitFor();
    assert.match(await page.getByRole("status").textContent(), /Confirmation link sent/);
    await shot(page, "check-your-email");

    // Resend at once: the 429's Retry-After becomes a countdown on the button.
    await page.getByRole("button", { name: "Send a new code" }).click();
    await page.getByRole("alert").filter({ hasText: "retry in" }).waitFor();
    const counting = page.getByRole("button", { name: /Send a new code \(\d+ s\)/ });
    await counting.waitFor();
    assert.equal(await counting.isDisabled(), true);
    await shot(page, "resend-countdown");

    // The link in the mail opens the app's confirmation page: it shows the address and
    // confirms nothing until the person clicks (mail scanners open links too).
    const mail = await mailTo(email);
    const link = confirmationLink(mail);
    assert.ok(link.startsWith(`${WEB_URL}/confirm#code=`), `${link} opens the web app, the code in the fragment`);
    const opened = await page.goto(link);
    const headers = opened.headers();
    assert.match(headers["content-security-policy"], new RegExp(`connect-src ${new URL(API_URL).origin}(;|$)`));
    assert.match(headers["content-security-policy"], /frame-ancestors 'none'/);
    assert.equal(headers["referrer-policy"], "no-referrer");
    await page.getByRole("heading", { name: "Confirm your email address", exact: true }).waitFor();
    await page.getByText(email, { exact: true }).waitFor();
    assert.ok(!page.url().includes("#") && !page.url().includes("code"), `the code left the address bar: ${page.url()}`);
    assert.ok(!traffic.some((t) => t.startsWith("PATCH ")), "opening the link sent nothing");
    await shot(page, "confirm-page-waits-for-a-click");
    await page.getByRole("button", { name: "Yes, confirm my email" }).click();
    await page.getByRole("heading", { name: "Your account", exact: true }).waitFor();
    await page.getByText(`Signed in as ${email}`).waitFor();
    await shot(page, "confirmed-and-signed-in");

    // Sign in on a second page (a new session, shared by both pages from now on).
    const second = await context.newPage();
    await second.goto(`${WEB_URL}/signin`);
    await second.getByLabel("Email or phone").fill(email);
    await second.getByLabel("Password").fill(PASSWORD);
    await second.getByRole("button", { name: "Sign in", exact: true }).click();
    await second.getByText(`Signed in as ${email}`).waitFor();
    await second.getByRole("cell", { name: /browser-test \(this one\)/ }).waitFor();
    await shot(second, "second-page-signed-in");

    // Both pages find the access token expired at once and load the account together.
    await second.evaluate(() => {
      const key = "auth-service.session";
      const session = JSON.parse(localStorage.getItem(key));
      localStorage.setItem(key, JSON.stringify({ ...session, accessExpiresAt: Date.now() }));
    });
    const before = refreshes.length;
    await Promise.all([page.reload(), second.reload()]);
    await Promise.all([
      page.getByText(`Signed in as ${email}`).waitFor(),
      second.getByText(`Signed in as ${email}`).waitFor(),
    ]);
    // The pages take turns under one Web Lock, and the second finds the first's new pair in
    // localStorage. Chromium may show a tab another tab's write a moment late; then the
    // second refresh is a duplicate inside the service's 10-second grace window and gets the
    // very same token, so the session stays one chain and neither page is signed out.
    const handedOut = await Promise.all(refreshes.slice(before));
    assert.ok(handedOut.length >= 1 && handedOut.length <= 2, `${handedOut.length} refreshes`);
    assert.equal(new Set(handedOut).size, 1, "every refresh handed out the same token");
    await shot(page, "first-page-after-refresh");
    await shot(second, "second-page-after-refresh");

    // The pair the pages now share refreshes again: the session was never seen as reused.
    await page.evaluate(() => {
      const key = "auth-service.session";
      const session = JSON.parse(localStorage.getItem(key));
      localStorage.setItem(key, JSON.stringify({ ...session, accessExpiresAt: Date.now() }));
    });
    await page.reload();
    await page.getByText(`Signed in as ${email}`).waitFor();

    // Sign out everywhere from the first page: the second one is signed out too.
    await page.getByRole("button", { name: "Sign out everywhere" }).click();
    await page.getByRole("heading", { name: "Sign in", exact: true }).waitFor();
    await shot(page, "signed-out-everywhere");
    await second.reload();
    await second.getByRole("heading", { name: "Sign in", exact: true }).waitFor();
    await shot(second, "second-page-signed-out");
  } catch (error) {
    console.error(globalThis.traffic?.join("\n"));
    // What each page showed when the step failed.
    for (const [i, open] of browser.contexts().flatMap((c) => c.pages()).entries()) {
      await open.screenshot({ path: join(SCREENSHOTS, `failed-page-${i + 1}.png`), fullPage: true }).catch(() => {});
    }
    throw error;
  } finally {
    await browser.close();
  }
});

test("someone signed up with my address: the mailed link's \"I did not sign up\" removes the account", async () => {
  const email = `squatted-${crypto.randomUUID()}@example.com`;
  const squatter = "the squatter's own password";
  const registered = await fetch(`${API_URL}/registration`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password: squatter, repeat_password: squatter }),
  });
  assert.equal(registered.status, 200);
  const browser = await launch();
  try {
    const page = await browser.newPage();
    await page.goto(confirmationLink(await mailTo(email)));
    await page.getByRole("heading", { name: "Confirm your email address", exact: true }).waitFor();
    await page.getByRole("button", { name: "I did not sign up" }).click();
    await page.getByRole("heading", { name: "Account removed", exact: true }).waitFor();
    await shot(page, "declined");
    // The squatter's password opens nothing any more.
    const login = await fetch(`${API_URL}/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email, password: squatter }),
    });
    assert.equal(login.status, 401);
  } finally {
    await browser.close();
  }
});

/** Registers `email` with `username` over the API and confirms it in `page` through the
 * mailed link: the account page opens. */
async function signUpAs(page, email, username) {
  const registered = await fetch(`${API_URL}/registration`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, username, password: PASSWORD, repeat_password: PASSWORD }),
  });
  assert.equal(registered.status, 200);
  await page.goto(confirmationLink(await mailTo(email)));
  await page.getByRole("button", { name: "Yes, confirm my email" }).click();
  await page.getByRole("heading", { name: "Your account", exact: true }).waitFor();
}

test("a new account says it is being set up until the other services have made it, then that it is ready", async () => {
  const browser = await launch();
  try {
    const page = await browser.newPage();
    // The local BlogService stays silent for a user whose name starts silent_blog: this
    // account waits, and says so.
    const id = crypto.randomUUID().replaceAll("-", "").slice(0, 10);
    await signUpAs(page, `waiting-${id}@example.com`, `silent_blog_${id}`);
    const note = page.locator("#provisioning");
    await note.filter({ hasText: "Setting up your account…" }).waitFor();
    await page.waitForTimeout(2500);
    assert.equal(await note.textContent(), "Setting up your account…", "still waiting on the silent service");
    await shot(page, "setting-up-your-account");

    // Both services answer another new account within seconds: it is ready, and the page
    // says so without a reload (or was ready before the page asked).
    await signUpAs(page, `ready-${id}@example.com`, `ready_${id}`);
    await page.waitForFunction(() => !document.querySelector("#provisioning")?.textContent.includes("Setting up"), null, { timeout: 30_000 });
    const text = await note.textContent();
    assert.ok(text === "" || text === "Your account is ready.", text);
    await shot(page, "account-ready");
  } finally {
    await browser.close();
  }
});

test("an authenticator app: set up from its QR code page, then every sign-in asks for its code or a recovery code", async () => {
  const { TOTP, Secret } = await import("otpauth");
  const email = `totp-${crypto.randomUUID()}@example.com`;
  const registered = await fetch(`${API_URL}/registration`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password: PASSWORD, repeat_password: PASSWORD }),
  });
  assert.equal(registered.status, 200);
  const browser = await launch();
  try {
    const page = await browser.newPage();
    await page.goto(confirmationLink(await mailTo(email)));
    await page.getByRole("button", { name: "Yes, confirm my email" }).click();
    await page.getByText(`Signed in as ${email}`).waitFor();

    // Set up: the page shows the QR code and the key; the app's first code turns it on.
    await page.getByRole("button", { name: "Set up an authenticator app" }).click();
    await page.getByRole("heading", { name: "Set up your authenticator app", exact: true }).waitFor();
    const qr = page.getByRole("img", { name: "QR code of the authenticator key" });
    assert.match(await qr.getAttribute("src"), /^data:image\/gif;base64,/);
    assert.ok((await qr.boundingBox()).width > 100, "the QR code is drawn at a scannable size");
    const key = await page.locator("#totp-secret").textContent();
    const app = new TOTP({ secret: Secret.fromBase32(key), digits: 6, period: 30, algorithm: "SHA1" });
    await shot(page, "totp-qr-code");
    await page.getByLabel("The 6-digit code the app shows").fill(app.generate());
    await page.getByRole("button", { name: "Turn on" }).click();
    await page.getByRole("heading", { name: "Authenticator app on", exact: true }).waitFor();
    const codes = await page.getByRole("list", { name: "Recovery codes" }).getByRole("listitem").allTextContents();
    assert.equal(codes.length, 10);
    await shot(page, "totp-recovery-codes");

    // Sign in again: the password, then the app's code. The code of this step was just used
    // (a step is accepted once), so the app's next one, within the step of skew either side.
    await page.goto(`${WEB_URL}/account`);
    await page.getByRole("button", { name: "Sign out", exact: true }).click();
    await page.getByRole("heading", { name: "Sign in", exact: true }).waitFor();
    await page.getByLabel("Email or phone").fill(email);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.getByRole("heading", { name: "Enter the code from your authenticator app", exact: true }).waitFor();
    await shot(page, "totp-sign-in-step");
    await page.getByRole("textbox", { name: "6-digit code", exact: true }).fill(app.generate({ timestamp: Date.now() + 30_000 }));
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.getByText(`Signed in as ${email}`).waitFor();
    await page.getByText("On: signing in with your password also asks for the app's code.").waitFor();
    await shot(page, "totp-signed-in");

    // And once more with a recovery code, as when the phone is lost.
    await page.getByRole("button", { name: "Sign out", exact: true }).click();
    await page.getByRole("heading", { name: "Sign in", exact: true }).waitFor();
    await page.getByLabel("Email or phone").fill(email);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.getByRole("button", { name: "Use a recovery code instead" }).click();
    await page.getByRole("textbox", { name: "Recovery code" }).fill(codes[0]);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.getByText(`Signed in as ${email}`).waitFor();
    await shot(page, "totp-signed-in-with-a-recovery-code");
  } finally {
    await browser.close();
  }
});

/** The claims of the access token the page's session holds. */
function accessClaims(page) {
  return page.evaluate(() => {
    const token = JSON.parse(localStorage.getItem("auth-service.session")).accessToken;
    return JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
  });
}

/** Chromium's virtual authenticator (the DevTools protocol's WebAuthn domain) for the page:
 * a platform authenticator that keeps discoverable credentials, verifies the user and answers
 * every prompt by itself, as a device with a screen lock would after the user's touch. */
async function virtualAuthenticator(page) {
  const devtools = await page.context().newCDPSession(page);
  await devtools.send("WebAuthn.enable");
  const { authenticatorId } = await devtools.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return { credentials: async () => (await devtools.send("WebAuthn.getCredentials", { authenticatorId })).credentials };
}

/** A new account, confirmed by its mailed link in the page: signed in there. */
async function signedUpIn(page, email) {
  const registered = await fetch(`${API_URL}/registration`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password: PASSWORD, repeat_password: PASSWORD }),
  });
  assert.equal(registered.status, 200);
  await page.goto(confirmationLink(await mailTo(email)));
  await page.getByRole("button", { name: "Yes, confirm my email" }).click();
  await page.getByText(`Signed in as ${email}`).waitFor();
}

/** The account page's row of the passkey named `name`, and its last-used cell (after the
 * name: added, last used, actions). */
function passkeyRow(page, name) {
  const row = page.getByRole("table", { name: "Passkeys" }).getByRole("row", { name: new RegExp(name) });
  return { row, lastUsed: row.getByRole("cell").nth(1) };
}

async function signOut(page) {
  await page.getByRole("button", { name: "Sign out", exact: true }).click();
  await page.getByRole("heading", { name: "Sign in", exact: true }).waitFor();
}

/** The password, then the second-factor step's "Use a passkey". */
async function signInWithPasswordAndPasskey(page, email) {
  await page.getByLabel("Email or phone").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByRole("heading", { name: "Use your passkey", exact: true }).waitFor();
}

test("a passkey: added on the account page, it signs in with no identifier typed, and after the password as the second factor; renamed", async () => {
  const email = `passkey-${crypto.randomUUID()}@example.com`;
  const browser = await launch();
  const page = await browser.newPage();
  try {
    const authenticator = await virtualAuthenticator(page);
    await signedUpIn(page, email);

    // Add one, named, on the account page (signed in just now: no password asked for).
    await page.getByRole("heading", { name: "Passkeys", exact: true }).waitFor();
    await page.getByText("None yet.", { exact: false }).waitFor();
    await page.getByLabel("Name (optional)").fill("Test laptop");
    await shot(page, "passkey-none-yet");
    await page.getByRole("button", { name: "Add a passkey", exact: true }).click();
    await page.getByRole("status").filter({ hasText: 'Passkey "Test laptop" added' }).waitFor();
    const added = passkeyRow(page, "Test laptop");
    await added.row.waitFor();
    assert.equal(await added.lastUsed.textContent(), "Never");
    const credentials = await authenticator.credentials();
    assert.equal(credentials.length, 1, "the authenticator holds the one passkey");
    assert.equal(credentials[0].isResidentCredential, true, "a discoverable credential");
    assert.equal(credentials[0].rpId, new URL(WEB_URL).hostname);
    await shot(page, "passkey-added");

    // Signed out, the passkey alone signs in: no identifier typed.
    await signOut(page);
    assert.equal(await page.getByLabel("Email or phone").inputValue(), "");
    await shot(page, "passkey-sign-in-page");
    await page.getByRole("button", { name: "Sign in with a passkey" }).click();
    await page.getByText(`Signed in as ${email}`).waitFor();
    const byPasskey = await accessClaims(page);
    assert.ok(["hwk", "swk"].includes(byPasskey.amr[0]), `amr ${byPasskey.amr}`);
    assert.deepEqual(byPasskey.amr.slice(1), ["user", "mfa"]);
    // The list says when it was last used.
    const { lastUsed } = passkeyRow(page, "Test laptop");
    assert.notEqual(await lastUsed.textContent(), "Never");
    const usedAt = Date.parse(await lastUsed.locator("time").getAttribute("datetime"));
    assert.ok(Math.abs(Date.now() - usedAt) < 5 * 60_000, `last used ${new Date(usedAt).toISOString()}`);
    await shot(page, "passkey-signed-in");

    // The password now asks for the passkey too: the second-factor step offers it.
    await signOut(page);
    await signInWithPasswordAndPasskey(page, email);
    await shot(page, "passkey-second-factor-step");
    await page.getByRole("button", { name: "Use a passkey" }).click();
    await page.getByText(`Signed in as ${email}`).waitFor();
    const both = await accessClaims(page);
    assert.equal(both.amr[0], "pwd");
    assert.ok(["hwk", "swk"].includes(both.amr[1]), `amr ${both.amr}`);
    assert.deepEqual(both.amr.slice(2), ["user", "mfa"]);
    await shot(page, "passkey-second-factor-signed-in");

    // Renamed, it is listed by its new name.
    await page.getByRole("button", { name: "Rename the passkey Test laptop" }).click();
    await page.getByRole("textbox", { name: "Name" }).fill("Work laptop");
    await page.getByRole("button", { name: "Save" }).click();
    await passkeyRow(page, "Work laptop").row.waitFor();
    assert.equal(await page.getByRole("table", { name: "Passkeys" }).getByRole("row", { name: /Test laptop/ }).count(), 0);
  } catch (error) {
    await page.screenshot({ path: join(SCREENSHOTS, "failed-passkey.png"), fullPage: true }).catch(() => {});
    throw error;
  } finally {
    await browser.close();
  }
});

test("a passkey in a browser without WebAuthn's JSON helpers (the client converts options and answers itself); removed, it signs in no more", async () => {
  const email = `passkey-by-hand-${crypto.randomUUID()}@example.com`;
  const browser = await launch();
  const page = await browser.newPage();
  try {
    // As in browsers before WebAuthn Level 3: no parse…FromJSON, no toJSON on credentials.
    await page.addInitScript(() => {
      delete PublicKeyCredential.parseCreationOptionsFromJSON;
      delete PublicKeyCredential.parseRequestOptionsFromJSON;
      delete PublicKeyCredential.prototype.toJSON;
    });
    await virtualAuthenticator(page);
    await signedUpIn(page, email);
    assert.deepEqual(await page.evaluate(() => [
      typeof PublicKeyCredential.parseCreationOptionsFromJSON,
      typeof PublicKeyCredential.parseRequestOptionsFromJSON,
      typeof PublicKeyCredential.prototype.toJSON,
    ]), ["undefined", "undefined", "undefined"]);

    // Unnamed, it is called "Passkey".
    await page.getByRole("button", { name: "Add a passkey", exact: true }).click();
    await page.getByRole("status").filter({ hasText: 'Passkey "Passkey" added' }).waitFor();
    await signOut(page);
    await page.getByRole("button", { name: "Sign in with a passkey" }).click();
    await page.getByText(`Signed in as ${email}`).waitFor();
    assert.notEqual(await passkeyRow(page, "Passkey").lastUsed.textContent(), "Never");

    // The second factor's options name the account's passkey (allowCredentials).
    await signOut(page);
    await signInWithPasswordAndPasskey(page, email);
    await page.getByRole("button", { name: "Use a passkey" }).click();
    await page.getByText(`Signed in as ${email}`).waitFor();
    assert.equal((await accessClaims(page)).amr[0], "pwd");
    await shot(page, "passkey-without-json-helpers-signed-in");

    // Removed (signed in just now: no password asked for), it no longer signs in, though the
    // authenticator still holds it.
    page.once("dialog", (dialog) => dialog.accept());
    await page.getByRole("button", { name: "Remove the passkey Passkey" }).click();
    await page.getByRole("status").filter({ hasText: "Passkey removed." }).waitFor();
    await page.getByText("None yet.", { exact: false }).waitFor();
    await signOut(page);
    await page.getByRole("button", { name: "Sign in with a passkey" }).click();
    await page.getByRole("alert").filter({ hasText: "That passkey was not accepted" }).waitFor();
    await shot(page, "passkey-removed-no-longer-signs-in");
  } catch (error) {
    await page.screenshot({ path: join(SCREENSHOTS, "failed-passkey-by-hand.png"), fullPage: true }).catch(() => {});
    throw error;
  } finally {
    await browser.close();
  }
});

/** A sign-in over HTTP, as another device would (its user agent is Node.js's). */
async function signInElsewhere(email) {
  const response = await fetch(`${API_URL}/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password: PASSWORD }),
  });
  assert.equal(response.status, 200);
}

async function signInWithPassword(page, email) {
  await page.getByLabel("Email or phone").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
}

test("the account page's Recent activity: the sign-in with the password, from this browser, newest first; Show more pages back", async () => {
  const email = `activity-${crypto.randomUUID()}@example.com`;
  const browser = await launch();
  const page = await (await browser.newContext({ userAgent: "activity-browser-test" })).newPage();
  try {
    // Signed up by the mailed link (a sign-in by an emailed link), then ten sign-ins on
    // another device, then the password here: more than the page's 10 records.
    await signedUpIn(page, email);
    for (let i = 0; i < 10; i++) await signInElsewhere(email);
    await signOut(page);
    await signInWithPassword(page, email);
    await page.getByText(`Signed in as ${email}`).waitFor();

    const activity = page.getByRole("table", { name: "Recent activity" });
    await activity.waitFor();
    const rows = activity.locator("tbody tr");
    assert.equal(await rows.count(), 10, "the last 10 records");
    const newest = rows.first().getByRole("cell");
    assert.equal(await newest.nth(1).textContent(), "Signed in with your password");
    assert.match(await newest.nth(2).textContent(), /activity-browser-test/, "from this browser");
    const at = Date.parse(await newest.nth(0).locator("time").getAttribute("datetime"));
    assert.ok(Math.abs(Date.now() - at) < 5 * 60_000, `signed in at ${new Date(at).toISOString()}`);
    assert.equal(await rows.nth(1).getByRole("cell").nth(1).textContent(), "Signed in with your password");
    assert.match(await rows.nth(1).getByRole("cell").nth(2).textContent(), /node/, "the other device");
    assert.equal(await activity.getByText("by an operator").count(), 0);
    await shot(page, "recent-activity");

    // Older records, a page at a time through the cursor, until there are no more.
    await page.getByRole("button", { name: "Show more" }).click();
    await page.getByRole("status").filter({ hasText: /earlier events? shown; that is all/ }).waitFor();
    assert.ok(await rows.count() > 10);
    assert.equal(await page.getByRole("button", { name: "Show more" }).count(), 0, "no more to show");
    assert.equal(await rows.last().getByRole("cell").nth(1).textContent(), "Signed in with a link or code we emailed you");
    await shot(page, "recent-activity-all");
  } catch (error) {
    await page.screenshot({ path: join(SCREENSHOTS, "failed-activity.png"), fullPage: true }).catch(() => {});
    throw error;
  } finally {
    await browser.close();
  }
});

/** An operator's command, through the `admin` function's Lambda Invoke API, which the local
 * API (`cargo lambda watch`) serves beside the routes, as `authctl` calls it. */
async function operator(command) {
  const response = await fetch(`${API_URL}/2015-03-31/functions/admin/invocations`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ actor: "arn:aws:iam::123456789012:user/browser-test", command }),
  });
  assert.equal(response.status, 200, `the admin function answered ${response.status}`);
  const answer = await response.json();
  assert.ok(answer.ok, JSON.stringify(answer));
  return answer.result;
}

test("a disabled account: the account page signs out to the sign-in page, which says why; enabled, its activity shows the operator's doing", async () => {
  const email = `disabled-${crypto.randomUUID()}@example.com`;
  const browser = await launch();
  const page = await browser.newPage();
  try {
    await signedUpIn(page, email);
    await operator({ name: "disable", user: email, reason: "browser test" });

    // The account page's bearer calls answer 403: the session is forgotten and the page goes
    // to the sign-in page with the reason, once (opening the account page again goes there
    // with no call at all).
    await page.reload();
    await page.getByRole("heading", { name: "Sign in", exact: true }).waitFor();
    await page.getByRole("alert").filter({ hasText: "This account is disabled. Contact support." }).waitFor();
    assert.equal(new URL(page.url()).pathname, "/signin");
    assert.equal(await page.evaluate(() => localStorage.getItem("auth-service.session")), null);
    await shot(page, "disabled-signed-out");
    await page.goto(`${WEB_URL}/account`);
    await page.getByRole("heading", { name: "Sign in", exact: true }).waitFor();

    // The right password is told why; the form keeps what was typed.
    await signInWithPassword(page, email);
    await page.getByRole("alert").filter({ hasText: "This account is disabled. Contact support." }).waitFor();
    assert.equal(await page.getByLabel("Email or phone").inputValue(), email);
    assert.equal(await page.evaluate(() => localStorage.getItem("auth-service.session")), null);
    await shot(page, "disabled-sign-in-refused");

    // Enabled, the same click signs in, and the trail shows what the operator did.
    await operator({ name: "enable", user: email });
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.getByText(`Signed in as ${email}`).waitFor();
    const activity = page.getByRole("table", { name: "Recent activity" });
    await activity.getByRole("row", { name: /Account enabled by an operator/ }).waitFor();
    await activity.getByRole("row", { name: /Account disabled by an operator/ }).waitFor();
    assert.equal(await activity.getByText("browser-test", { exact: false }).count(), 0, "the operator's principal is not shown");
    await shot(page, "disabled-then-enabled-activity");
  } catch (error) {
    await page.screenshot({ path: join(SCREENSHOTS, "failed-disabled.png"), fullPage: true }).catch(() => {});
    throw error;
  } finally {
    await browser.close();
  }
});

/** "Continue with the local provider" on the sign-in page, then the provider's own pages (a
 * login form where any name signs in as `<name>@example.com`, verified; a consent form), unless
 * the provider remembers this browser. */
async function continueWithTheLocalProvider(page, login) {
  await page.getByRole("button", { name: "Continue with the local provider" }).click();
  await atTheLocalProvider(page, login);
}

async function atTheLocalProvider(page, login) {
  await page.waitForURL((url) => url.origin !== new URL(WEB_URL).origin);
  await page.locator("input[name=login]").fill(login);
  await page.locator("input[name=password]").fill("anything");
  await page.locator("button[type=submit]").click();
  if (login === "deny") return;
  await page.waitForURL((url) => url.origin !== new URL(WEB_URL).origin && url.pathname.includes("/interaction/"));
  await page.locator("button[type=submit]").click();
}

/** The account page's row of a provider (name, status, action). */
function providerRow(page, label) {
  return page.getByRole("table", { name: "Providers" }).getByRole("row", { name: new RegExp(label, "i") });
}

test("another provider: a new account made by it; an email an account holds is never merged, its owner links the provider; a refusal at the provider", async () => {
  const browser = await launch();
  try {
    // A new identity makes a verified account with no password, signed in with amr fed; the
    // one-time code is gone from the address bar.
    const newcomer = `fed-${crypto.randomUUID().slice(0, 8)}`;
    let page = await (await browser.newContext()).newPage();
    await page.goto(`${WEB_URL}/signin`);
    await continueWithTheLocalProvider(page, newcomer);
    await page.getByText(`Signed in as ${newcomer}@example.com`).waitFor();
    assert.equal(new URL(page.url()).pathname, "/account");
    assert.equal(await page.evaluate(() => location.hash), "");
    assert.deepEqual((await accessClaims(page)).amr, ["fed"]);
    await providerRow(page, "local provider").getByText("Linked").waitFor();
    await page.getByRole("heading", { name: "Set a password" }).waitFor();
    assert.equal(await page.getByRole("heading", { name: "Change password" }).count(), 0);
    await shot(page, "provider-new-account");
    // Its only way to sign in: unlinking is refused.
    await page.getByRole("button", { name: "Unlink the local provider" }).click();
    await page.getByRole("alert").filter({ hasText: "It is the only way you sign in" }).waitFor();
    await page.context().close();

    // An account already holds the email the provider vouches for: no merge, an explanation.
    const owner = `fed-owner-${crypto.randomUUID().slice(0, 8)}`;
    const email = `${owner}@example.com`;
    page = await (await browser.newContext()).newPage();
    await signedUpIn(page, email);
    await signOut(page);
    await continueWithTheLocalProvider(page, owner);
    await page.getByRole("alert").filter({ hasText: "An account already uses the email the local provider gave" }).waitFor();
    assert.equal(new URL(page.url()).pathname, "/signin");
    assert.equal(await page.evaluate(() => localStorage.getItem("auth-service.session")), null);
    await shot(page, "provider-account-exists");

    // Its owner signs in with the password and links the provider from the account page (the
    // provider remembers this browser: straight back).
    await page.getByLabel("Email or phone").fill(email);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.getByText(`Signed in as ${email}`).waitFor();
    await page.getByRole("button", { name: "Link the local provider" }).click();
    await page.getByRole("status").filter({ hasText: "The local provider is linked" }).waitFor();
    await providerRow(page, "local provider").getByText("Linked").waitFor();
    assert.equal(await page.evaluate(() => location.hash), "");
    await shot(page, "provider-linked");

    // Now the provider signs in to that account.
    await signOut(page);
    await page.getByRole("button", { name: "Continue with the local provider" }).click();
    await page.getByText(`Signed in as ${email}`).waitFor();
    assert.deepEqual((await accessClaims(page)).amr, ["fed"]);

    // Unlinked (the account has a password), it signs in there no more: the email is held.
    await page.getByRole("button", { name: "Unlink the local provider" }).click();
    await page.getByRole("status").filter({ hasText: "The local provider no longer signs you in." }).waitFor();
    await providerRow(page, "local provider").getByText("Not linked").waitFor();
    await signOut(page);
    await page.getByRole("button", { name: "Continue with the local provider" }).click();
    await page.getByRole("alert").filter({ hasText: "An account already uses the email" }).waitFor();
    await page.context().close();

    // Refused at the provider: back on the sign-in page with the reason.
    page = await (await browser.newContext()).newPage();
    await page.goto(`${WEB_URL}/signin`);
    await continueWithTheLocalProvider(page, "deny");
    await page.getByRole("alert").filter({ hasText: "You did not allow the sign-in at the local provider." }).waitFor();
    assert.equal(new URL(page.url()).pathname, "/signin");
    await shot(page, "provider-access-denied");
  } catch (error) {
    for (const context of browser.contexts()) {
      for (const page of context.pages()) {
        await page.screenshot({ path: join(SCREENSHOTS, "failed-provider.png"), fullPage: true }).catch(() => {});
      }
    }
    throw error;
  } finally {
    await browser.close();
  }
});
