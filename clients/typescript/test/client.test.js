// The client against the local API that `make test` serves (API_URL, MOTO_URL): one typed
// function per route, typed errors, and two "tabs" sharing one session.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AuthClient, AuthError, TokenStore, localLocks, memoryStorage, passkeys, readProviderReturn } from "../dist/index.js";

const API = process.env.API_URL;
const MOTO = process.env.MOTO_URL;
const PASSWORD = "correct horse battery staple";
assert.ok(API && MOTO, "run with `make test`, which exports API_URL and MOTO_URL");

const here = new URL(".", import.meta.url).pathname;

async function sentMail(address) {
  const data = await (await fetch(`${MOTO}/moto-api/data.json`)).json();
  return (data.ses?.Message ?? []).filter((m) => m.destinations.ToAddresses.includes(address));
}

function linkCode(html, marker) {
  return html.split(marker)[1].match(/^[A-Za-z0-9_-]+/)[0];
}

/** A fetch that counts the calls to each path. */
function counting() {
  const calls = new Map();
  const fetchFn = (url, init) => {
    const path = new URL(url).pathname;
    calls.set(path, (calls.get(path) ?? 0) + 1);
    return fetch(url, init);
  };
  return { calls, fetchFn };
}

async function signedUp(client) {
  const email = `client-${crypto.randomUUID()}@example.com`;
  const registered = await client.register({ email, password: PASSWORD, repeat_password: PASSWORD });
  assert.equal(registered.channel, "email");
  const [mail] = await sentMail(email);
  const confirmed = await client.confirmRegistration(linkCode(mail.body, "/confirm#code="));
  assert.equal(confirmed.user_id, registered.user_id);
  return { email, userId: registered.user_id };
}

test("I did not sign up: the code deletes the unverified account and frees the address", async () => {
  const client = new AuthClient({ baseUrl: API, storage: memoryStorage() });
  const email = `client-${crypto.randomUUID()}@example.com`;
  await client.register({ email, password: PASSWORD, repeat_password: PASSWORD });
  const [mail] = await sentMail(email);
  // The mailed link names the address in its fragment, for the page to show.
  const named = `email=${encodeURIComponent(email)}`;
  assert.ok(mail.body.includes(`&amp;${named}`) || mail.body.includes(`&${named}`), mail.body);
  const code = linkCode(mail.body, "/confirm#code=");
  assert.equal(await client.declineRegistration(code), undefined);
  await assert.rejects(client.confirmRegistration(code), (error) => error instanceof AuthError && error.code === "invalid_code");
  // Free again: the address can be registered at once (a 429 would be the send minute).
  await assert.rejects(
    client.register({ email, password: PASSWORD, repeat_password: PASSWORD }),
    (error) => error instanceof AuthError && error.code === "rate_limited",
  );
});

test("the generated types are the document's", () => {
  const out = join(mkdtempSync(join(tmpdir(), "schema-")), "schema.ts");
  execFileSync(join(here, "../node_modules/.bin/openapi-typescript"), [
    join(here, "../../../openapi/openapi.yaml"), "--output", out,
  ], { stdio: "pipe" });
  assert.equal(
    readFileSync(join(here, "../src/schema.ts"), "utf8"),
    readFileSync(out, "utf8"),
    "src/schema.ts is stale: run `npm run generate` in clients/typescript",
  );
});

test("sign up, confirm by the mailed link, and use the session", async () => {
  const client = new AuthClient({ baseUrl: API, store: new TokenStore({ storage: memoryStorage() }) });
  const { email, userId } = await signedUp(client);
  assert.ok(client.signedIn);
  const me = await client.getMe();
  assert.equal(me.user_id, userId);
  assert.equal(me.email, email);
  const sessions = await client.listSessions();
  assert.equal(sessions.filter((s) => s.current).length, 1);
  const discovery = await client.openidConfiguration();
  assert.deepEqual(discovery.grant_types_supported, ["refresh_token"]);
  assert.ok((await client.jwks()).keys.length >= 1);
});

test("errors are typed: code, status and Retry-After", async () => {
  const client = new AuthClient({ baseUrl: API, store: new TokenStore({ storage: memoryStorage() }) });
  const email = `client-${crypto.randomUUID()}@example.com`;
  await client.register({ email, password: PASSWORD, repeat_password: PASSWORD });
  await assert.rejects(client.register({ email, password: PASSWORD, repeat_password: PASSWORD }), (error) => {
    assert.ok(error instanceof AuthError);
    assert.equal(error.code, "user_exists");
    assert.equal(error.status, 400);
    return true;
  });
  await assert.rejects(client.resendCode({ email }), (error) => {
    assert.equal(error.code, "rate_limited");
    assert.equal(error.status, 429);
    assert.ok(Number.isInteger(error.retryAfter) && error.retryAfter > 0, `${error.retryAfter}`);
    return true;
  });
  await assert.rejects(client.login({ email, password: PASSWORD }), (error) => {
    // Unverified, and the send limit's minute has not passed for its OTP.
    assert.ok(["verification_required", "rate_limited"].includes(error.code), error.code);
    return true;
  });
  await assert.rejects(client.getMe(), (error) => error.code === "invalid_token" && error.status === 401);
  await assert.rejects(
    new AuthClient({ baseUrl: "http://127.0.0.1:9" }).openidConfiguration(),
    (error) => error.code === "network_error",
  );
});

test("two tabs whose access token expires at once refresh once and both stay signed in", async () => {
  // Two tabs of one browser: one storage, one lock manager, each its own client.
  const storage = memoryStorage();
  const locks = localLocks();
  let skew = 0;
  const now = () => Date.now() + skew;
  const first = counting();
  const tab1 = new AuthClient({ baseUrl: API, fetch: first.fetchFn, store: new TokenStore({ storage, locks, now }) });
  const { userId } = await signedUp(tab1);
  const second = counting();
  const tab2 = new AuthClient({ baseUrl: API, fetch: second.fetchFn, store: new TokenStore({ storage, locks, now }) });

  // 14 minutes 45 seconds later the access token is within the refresh leeway.
  skew = (15 * 60 - 15) * 1000;
  const [me1, me2] = await Promise.all([tab1.getMe(), tab2.getMe()]);
  assert.equal(me1.user_id, userId);
  assert.equal(me2.user_id, userId);
  const refreshes = (first.calls.get("/token") ?? 0) + (second.calls.get("/token") ?? 0);
  assert.equal(refreshes, 1, "one refresh for both tabs");
  // The family is intact: the session refreshes again and is still listed once.
  assert.ok(await tab2.refresh());
  assert.equal((await tab1.listSessions()).filter((s) => s.current).length, 1);
});

test("a refused access token is refreshed once and the call retried", async () => {
  const storage = memoryStorage();
  const client = new AuthClient({ baseUrl: API, store: new TokenStore({ storage }) });
  const { userId } = await signedUp(client);
  const key = "auth-service.session";
  const session = JSON.parse(storage.getItem(key));
  storage.setItem(key, JSON.stringify({ ...session, accessToken: session.accessToken.slice(0, -4) + "AAAA" }));
  assert.equal((await client.getMe()).user_id, userId);
});

test("sign out everywhere ends every tab's session", async () => {
  const storage = memoryStorage();
  const tab1 = new AuthClient({ baseUrl: API, store: new TokenStore({ storage }) });
  const { email } = await signedUp(tab1);
  const otherDevice = new AuthClient({ baseUrl: API, store: new TokenStore({ storage: memoryStorage() }) });
  await otherDevice.login({ email, password: PASSWORD });
  assert.ok(otherDevice.signedIn);
  await tab1.revokeAllSessions();
  assert.equal(tab1.signedIn, false);
  await assert.rejects(otherDevice.getMe(), (error) => error.code === "invalid_token");
});

test("the account's activity: its sign-ins with how, its wrong passwords, newest first, a page at a time", async () => {
  const client = new AuthClient({ baseUrl: API, store: new TokenStore({ storage: memoryStorage() }) });
  const { email } = await signedUp(client);
  await assert.rejects(client.login({ email, password: "not the password" }), (error) => error.code === "invalid_credentials");
  await client.login({ email, password: PASSWORD });

  const { activity, next_cursor } = await client.listActivity();
  assert.equal(next_cursor, undefined, "three records fit on the first page");
  assert.deepEqual(activity.map((a) => a.event), ["signed_in", "sign_in_failed", "signed_in"]);
  const [signIn, failed, confirmed] = activity;
  // The newest: the password sign-in, with how and from where.
  assert.deepEqual(signIn.amr, ["pwd"]);
  assert.ok(signIn.ip, "the address it came from");
  assert.equal(signIn.actor, undefined, "the user did it, not an operator");
  assert.match(signIn.at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.ok(Math.abs(Date.parse(signIn.at) - Date.now()) < 5 * 60_000, signIn.at);
  assert.ok(failed.ip);
  // The confirmation link signed the user in too.
  assert.ok(confirmed.amr.length > 0 && !confirmed.amr.includes("pwd"), `${confirmed.amr}`);
  assert.ok(signIn.at >= failed.at && failed.at >= confirmed.at, "newest first");
  // Nothing secret in any record.
  const text = JSON.stringify(activity);
  assert.ok(!text.includes(PASSWORD) && !text.includes("not the password"), text);

  // One record a page: the cursor walks them in the same order, and the last page says so.
  const walked = [];
  let cursor;
  do {
    const page = await client.listActivity({ limit: 1, ...(cursor ? { cursor } : {}) });
    assert.equal(page.activity.length, 1);
    walked.push(...page.activity);
    cursor = page.next_cursor;
    assert.ok(walked.length <= 3, "the cursor ends");
  } while (cursor);
  assert.deepEqual(walked, activity);
  const second = await client.listActivity({ limit: 2 });
  assert.equal(second.activity.length, 2);
  assert.ok(second.next_cursor);
  assert.deepEqual((await client.listActivity({ cursor: second.next_cursor })).activity, activity.slice(2));

  // A cursor no page handed out, and a limit outside 1 to 100.
  for (const query of [{ cursor: "not-a-cursor" }, { limit: 0 }, { limit: 101 }]) {
    await assert.rejects(client.listActivity(query), (error) =>
      error instanceof AuthError && error.code === "invalid_request" && error.status === 400);
  }
  // Another user's page is theirs alone.
  const other = new AuthClient({ baseUrl: API, store: new TokenStore({ storage: memoryStorage() }) });
  await signedUp(other);
  assert.deepEqual((await other.listActivity()).activity.map((a) => a.event), ["signed_in"]);
  await assert.rejects(
    new AuthClient({ baseUrl: API, store: new TokenStore({ storage: memoryStorage() }) }).listActivity(),
    (error) => error.code === "invalid_token" && error.status === 401,
  );
});

/** An operator's command, through the `admin` function's Lambda Invoke API, which the local
 * API (`cargo lambda watch`) serves beside the routes, as `authctl` calls it. */
async function operator(command) {
  const response = await fetch(`${API}/2015-03-31/functions/admin/invocations`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ actor: "arn:aws:iam::123456789012:user/client-test", command }),
  });
  assert.equal(response.status, 200, `the admin function answered ${response.status}`);
  const answer = await response.json();
  assert.ok(answer.ok, JSON.stringify(answer));
  return answer.result;
}

test("a disabled account: every tab's session is forgotten, and sign-in says why once the password is right", async () => {
  const storage = memoryStorage();
  const tab = new AuthClient({ baseUrl: API, store: new TokenStore({ storage }) });
  const { email, userId } = await signedUp(tab);
  const otherTab = new AuthClient({ baseUrl: API, store: new TokenStore({ storage }) });
  await operator({ name: "disable", user: userId, reason: "client test" });

  // A bearer route: 403 account_disabled, and the session is forgotten (no loop of retries).
  await assert.rejects(tab.getMe(), (error) =>
    error instanceof AuthError && error.code === "account_disabled" && error.status === 403);
  assert.equal(tab.signedIn, false);
  assert.equal(otherTab.signedIn, false, "the tabs share the session");
  // The refresh says the same (OAuth's invalid_grant beside the code), and forgets it too.
  const device = new AuthClient({ baseUrl: API, store: new TokenStore({ storage: memoryStorage() }) });
  await operator({ name: "enable", user: userId });
  await device.login({ email, password: PASSWORD });
  await operator({ name: "disable", user: userId, reason: "client test, again" });
  await assert.rejects(device.refresh(), (error) =>
    error.code === "account_disabled" && error.status === 403 && error.problem.error === "invalid_grant");
  assert.equal(device.signedIn, false);
  // Signing in: the right password is told, a wrong one is not.
  await assert.rejects(device.login({ email, password: PASSWORD }), (error) => error.code === "account_disabled" && error.status === 403);
  await assert.rejects(device.login({ email, password: "not the password" }), (error) => error.code === "invalid_credentials");

  // Enabled, it signs in; its trail shows what an operator did (not which principal).
  await operator({ name: "enable", user: userId });
  await device.login({ email, password: PASSWORD });
  const events = (await device.listActivity({ limit: 100 })).activity;
  const disabled = events.find((a) => a.event === "account_disabled");
  assert.equal(disabled.actor, "operator");
  assert.equal(disabled.detail, "client test, again");
  assert.equal(events[0].event, "signed_in");
});

const BASE64URL = /^[A-Za-z0-9_-]+$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A registration response that parses but was made by no authenticator. */
const FORGED_REGISTRATION = {
  id: "AAAA", rawId: "AAAA", type: "public-key",
  response: { clientDataJSON: "e30", attestationObject: "oA" }, clientExtensionResults: {},
};
/** An assertion that parses but was signed by no authenticator. */
const FORGED_ASSERTION = {
  id: "AAAA", rawId: "AAAA", type: "public-key",
  response: { clientDataJSON: "e30", authenticatorData: "AAAA", signature: "AAAA", userHandle: "AAAA" },
  clientExtensionResults: {},
};

test("passkeys: the ceremonies' options, and each ceremony used once", async () => {
  const client = new AuthClient({ baseUrl: API, store: new TokenStore({ storage: memoryStorage() }) });
  await signedUp(client);
  assert.deepEqual(await client.listPasskeys(), []);
  assert.deepEqual((await client.getMe()).mfa, []);

  // Registration: a discoverable credential with user verification, for this web app's host
  // (the session signed in just now, so no password is asked for).
  const registration = await client.passkeyRegistrationOptions();
  assert.match(registration.challenge_id, UUID);
  const created = registration.options;
  assert.match(created.challenge, BASE64URL);
  assert.match(created.user.id, BASE64URL);
  assert.equal(created.authenticatorSelection.residentKey, "required");
  assert.equal(created.authenticatorSelection.userVerification, "required");
  assert.ok(created.pubKeyCredParams.some((p) => p.type === "public-key" && p.alg === -7), "ES256 is offered");
  assert.deepEqual(created.excludeCredentials ?? [], []);
  if (process.env.WEB_URL) assert.equal(created.rp.id, new URL(process.env.WEB_URL).hostname);

  // A response no authenticator made is refused, and spends the ceremony.
  await assert.rejects(
    client.addPasskey({ challenge_id: registration.challenge_id, credential: FORGED_REGISTRATION, name: "Forged" }),
    (error) => error instanceof AuthError && error.code === "invalid_credential" && error.status === 400,
  );
  await assert.rejects(
    client.addPasskey({ challenge_id: registration.challenge_id, credential: FORGED_REGISTRATION }),
    (error) => error.code === "invalid_challenge" && error.status === 400,
  );
  await assert.rejects(
    client.addPasskey({ challenge_id: (await client.passkeyRegistrationOptions()).challenge_id, credential: FORGED_REGISTRATION, name: " " }),
    (error) => error.code === "invalid_request",
  );
  await assert.rejects(client.renamePasskey("no-such-passkey", "Laptop"), (error) => error.code === "passkey_not_found" && error.status === 404);
  await assert.rejects(client.removePasskey("no-such-passkey"), (error) => error.code === "passkey_not_found" && error.status === 404);
  assert.deepEqual(await client.listPasskeys(), []);

  // Sign-in: no identifier, so no credential is named; the same for anyone.
  const anyone = new AuthClient({ baseUrl: API, store: new TokenStore({ storage: memoryStorage() }) });
  const signIn = await anyone.passkeySignInOptions();
  assert.match(signIn.challenge_id, UUID);
  assert.match(signIn.options.challenge, BASE64URL);
  assert.deepEqual(signIn.options.allowCredentials, []);
  assert.equal(signIn.options.userVerification, "required");
  assert.equal(signIn.options.rpId, created.rp.id);
  await assert.rejects(
    anyone.signInWithPasskey({ challenge_id: signIn.challenge_id, credential: FORGED_ASSERTION }),
    (error) => error.code === "invalid_credential" && error.status === 400,
  );
  await assert.rejects(
    anyone.signInWithPasskey({ challenge_id: signIn.challenge_id, credential: FORGED_ASSERTION }),
    (error) => error.code === "invalid_challenge",
  );
  assert.equal(anyone.signedIn, false);
  await assert.rejects(
    anyone.passkeyRegistrationOptions(),
    (error) => error.code === "invalid_token" && error.status === 401,
  );
});

test("passkeys: the browser ceremonies need WebAuthn, and mfa_required's options come with the error", async () => {
  // Node.js has no WebAuthn: the helper says so before any prompt.
  assert.equal(passkeys.supported(), false);
  const client = new AuthClient({ baseUrl: API, store: new TokenStore({ storage: memoryStorage() }) });
  await assert.rejects(passkeys.signIn(client), (error) => error instanceof DOMException && error.name === "NotSupportedError");
  await assert.rejects(
    passkeys.secondFactor(client, { challengeId: undefined, passkeyOptions: undefined }),
    (error) => error instanceof TypeError,
  );

  const options = { challenge: "AAAA", rpId: "localhost", allowCredentials: [{ type: "public-key", id: "AQID" }], userVerification: "required" };
  const error = new AuthError(403, {
    type: "https://auth-service.dev/problems/mfa-required", title: "Second factor required", status: 403,
    code: "mfa_required", detail: "", challenge_id: "c-1", methods: ["passkey"], passkey_options: options,
  }, undefined);
  assert.equal(error.challengeId, "c-1");
  assert.deepEqual(error.methods, ["passkey"]);
  assert.deepEqual(error.passkeyOptions, options);
});

// Other providers: `local` is the local OpenID provider (tools/oidc-provider) that `make test`
// runs (LOCAL_OIDC_ISSUER), and the web app's pages (WEB_URL) are the frontend pages a flow
// may return to.
const ISSUER = process.env.LOCAL_OIDC_ISSUER;
const WEB = process.env.WEB_URL;
const noProvider = !ISSUER || !WEB ? "needs LOCAL_OIDC_ISSUER and WEB_URL (make test)" : false;

/**
 * A person's browser from the start URL (the service's, which binds the flow to this browser
 * with a cookie, or a link's authorization URL at the provider): follows redirects with a
 * cookie jar, fills the provider's login form (`login`, any password) and its consent form,
 * and opens the service's callback with the jar's cookies: the frontend URL the service sends
 * the browser back to.
 */
async function throughProvider(authorizationUrl, login) {
  const jar = new Map(); // "path name" -> { path, pair }
  const cookies = (url) => [...jar.values()]
    .filter(({ path }) => url.pathname === path || url.pathname.startsWith(path.endsWith("/") ? path : `${path}/`))
    .map(({ pair }) => pair).join("; ");
  const callback = `${API}/oauth/local/callback`;
  let url = new URL(authorizationUrl);
  let form;
  for (let i = 0; i < 20; i++) {
    if (url.href.startsWith(callback)) {
      const back = await fetch(url, { redirect: "manual", headers: { cookie: cookies(url) } });
      assert.equal(back.status, 302);
      return back.headers.get("location");
    }
    const response = await fetch(url, {
      method: form ? "POST" : "GET",
      redirect: "manual",
      headers: { cookie: cookies(url), ...(form ? { "content-type": "application/x-www-form-urlencoded" } : {}) },
      body: form ? new URLSearchParams(form).toString() : undefined,
    });
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(";").map((part) => part.trim());
      const path = attributes.find((a) => a.toLowerCase().startsWith("path="))?.slice(5) ?? "/";
      const name = pair.split("=")[0];
      if (pair.endsWith("=") || /expires=Thu, 01 Jan 1970/i.test(line)) jar.delete(`${path} ${name}`);
      else jar.set(`${path} ${name}`, { path, pair });
    }
    if (response.status >= 300 && response.status < 400) {
      url = new URL(response.headers.get("location"), url);
      form = undefined;
      continue;
    }
    assert.equal(response.status, 200, `the provider answered ${response.status} at ${url}`);
    const page = await response.text();
    const action = page.match(/<form[^>]*action="([^"]+)"/)?.[1];
    assert.ok(action, `a form at ${url}`);
    url = new URL(action.replaceAll("&amp;", "&"), url);
    form = page.includes('name="login"')
      ? { prompt: "login", login, password: "any password" }
      : { prompt: "consent" };
  }
  throw new Error("the provider never sent the browser back to the service");
}

test("providers: readProviderReturn reads what a flow returned in the fragment", () => {
  assert.deepEqual(readProviderReturn("#code=abc_DEF-1"), { code: "abc_DEF-1" });
  assert.deepEqual(readProviderReturn("code=abc"), { code: "abc" });
  assert.deepEqual(readProviderReturn("#linked=local&provider=local"), { linked: "local", provider: "local" });
  assert.deepEqual(readProviderReturn("#error=account_exists&provider=local"), { error: "account_exists", provider: "local" });
  assert.deepEqual(readProviderReturn("#error=access_denied&provider=my-idp"), { error: "access_denied", provider: "my-idp" });
  assert.equal(readProviderReturn(""), null);
  assert.equal(readProviderReturn("#"), null);
  assert.equal(readProviderReturn("#email=a%40example.com"), null);
  // The start URL is for the browser's own navigation; nothing is fetched to make it.
  const client = new AuthClient({ baseUrl: "https://auth.example.com/prod/", fetch: () => assert.fail("no fetch") });
  assert.equal(
    client.startProviderSignIn("google", "https://app.example.com/signin"),
    "https://auth.example.com/prod/oauth/google/start?redirect_uri=https%3A%2F%2Fapp.example.com%2Fsignin",
  );
});

test("providers: the start URL sends the browser to the provider, with state, nonce and PKCE", { skip: noProvider }, async () => {
  const client = new AuthClient({ baseUrl: API, store: new TokenStore({ storage: memoryStorage() }) });
  const start = client.startProviderSignIn("local", `${WEB}/signin`);
  const response = await fetch(start, { redirect: "manual" });
  assert.equal(response.status, 302);
  assert.equal(response.headers.get("cache-control"), "no-store");
  assert.equal(response.headers.get("referrer-policy"), "no-referrer");
  // The cookie that lets only this browser bring the callback.
  const binding = response.headers.getSetCookie().find((c) => c.startsWith("auth_flow_"));
  assert.match(binding, /; Path=\/oauth\/local\/callback; Max-Age=600; HttpOnly; SameSite=Lax/);
  const to = new URL(response.headers.get("location"));
  assert.equal(`${to.origin}${to.pathname}`, `${ISSUER}/auth`);
  const query = to.searchParams;
  assert.equal(query.get("response_type"), "code");
  assert.equal(query.get("redirect_uri"), `${API}/oauth/local/callback`);
  assert.equal(query.get("code_challenge_method"), "S256");
  for (const name of ["client_id", "state", "nonce", "code_challenge"]) assert.ok(query.get(name), name);
  assert.ok(query.get("scope").split(" ").includes("openid"));
  // Each start is a flow of its own.
  const again = new URL((await fetch(start, { redirect: "manual" })).headers.get("location"));
  assert.notEqual(again.searchParams.get("state"), query.get("state"));

  // A page that is not one of the configured ones, exactly, and a provider that is not configured.
  const refused = async (url, status, code) => {
    const answer = await fetch(url, { redirect: "manual" });
    assert.equal(answer.status, status);
    assert.equal((await answer.json()).code, code);
  };
  await refused(client.startProviderSignIn("local", `${WEB}/signin/`), 400, "invalid_redirect_uri");
  await refused(client.startProviderSignIn("local", "https://evil.example/signin"), 400, "invalid_redirect_uri");
  await refused(client.startProviderSignIn("no-such-provider", `${WEB}/signin`), 404, "provider_not_found");
  // A callback whose state the service never issued goes nowhere.
  await refused(`${API}/oauth/local/callback?code=x&state=forged`, 400, "invalid_state");
});

test("providers: a new identity signs in to an account of its own, with the one-time code, once", { skip: noProvider }, async () => {
  const client = new AuthClient({ baseUrl: API, store: new TokenStore({ storage: memoryStorage() }) });
  await assert.rejects(client.finishProviderSignIn("not-a-code"), (error) =>
    error instanceof AuthError && error.code === "invalid_code" && error.status === 400);
  assert.equal(client.signedIn, false);

  const login = `client-${crypto.randomUUID().slice(0, 8)}`;
  const back = new URL(await throughProvider(client.startProviderSignIn("local", `${WEB}/signin`), login));
  assert.equal(`${back.origin}${back.pathname}`, `${WEB}/signin`, "back to the page the flow started from");
  const returned = readProviderReturn(back.hash);
  assert.ok(returned && "code" in returned, back.hash);
  const pair = await client.finishProviderSignIn(returned.code);
  assert.ok(client.signedIn);
  const claims = JSON.parse(Buffer.from(pair.access_token.split(".")[1], "base64url"));
  assert.deepEqual(claims.amr, ["fed"]);
  const me = await client.getMe();
  assert.equal(me.email, `${login}@example.com`);
  assert.equal(me.verified, true);
  assert.deepEqual(me.providers, ["local"]);
  assert.equal(me.has_password, false);
  // The code was spent.
  await assert.rejects(
    new AuthClient({ baseUrl: API, store: new TokenStore({ storage: memoryStorage() }) }).finishProviderSignIn(returned.code),
    (error) => error.code === "invalid_code",
  );
  // Its one way to sign in stays.
  await assert.rejects(client.unlinkProvider("local"), (error) => error.code === "last_sign_in_method" && error.status === 409);
  await assert.rejects(client.linkProvider("local", `${WEB}/account`), (error) => error.code === "provider_already_linked" && error.status === 409);
});

test("providers: a password account links the provider from its account page, and unlinks it", { skip: noProvider }, async () => {
  const client = new AuthClient({ baseUrl: API, store: new TokenStore({ storage: memoryStorage() }) });
  await signedUp(client);
  const me = await client.getMe();
  assert.deepEqual(me.providers, []);
  assert.equal(me.has_password, true);
  await assert.rejects(client.linkProvider("no-such-provider", `${WEB}/account`), (error) => error.code === "provider_not_found" && error.status === 404);
  await assert.rejects(client.linkProvider("local", "https://evil.example/account"), (error) => error.code === "invalid_redirect_uri" && error.status === 400);
  await assert.rejects(client.unlinkProvider("local"), (error) => error.code === "provider_not_linked" && error.status === 404);
  await assert.rejects(client.linkProvider("local", `${WEB}/account`, "a wrong password"), (error) => error.code === "invalid_credentials" && error.status === 401);

  // Signed in just now: no password needed.
  const authorizationUrl = await client.linkProvider("local", `${WEB}/account`);
  assert.ok(authorizationUrl.startsWith(`${ISSUER}/auth?`), authorizationUrl);
  const login = `client-link-${crypto.randomUUID().slice(0, 8)}`;
  const back = new URL(await throughProvider(authorizationUrl, login));
  assert.equal(`${back.origin}${back.pathname}`, `${WEB}/account`);
  assert.deepEqual(readProviderReturn(back.hash), { linked: "local", provider: "local" });
  assert.deepEqual((await client.getMe()).providers, ["local"]);

  // The password still signs in, so the provider can go; then it is linked no more.
  assert.equal(await client.unlinkProvider("local", PASSWORD), undefined);
  assert.deepEqual((await client.getMe()).providers, []);
});
