// The token and revocation endpoints as an OAuth client library sees them: oauth4webapi
// discovers the issuer, refreshes, revokes, and must get errors it can read (it rejects
// anything but application/json with OAUTH_RESPONSE_IS_NOT_JSON). Needs the `make test`
// stack: API_URL, MOTO_URL and CONFIRM_URL come from its environment.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as oauth from "oauth4webapi";

const api = process.env.API_URL;
const moto = process.env.MOTO_URL;
const confirmUrl = process.env.CONFIRM_URL;
const password = "correct horse battery staple";
const client = { client_id: "oauth4webapi-test" };
const clientAuth = oauth.None();
const insecure = { [oauth.allowInsecureRequests]: true };

async function json(path, method, body) {
  const response = await fetch(`${api}${path}`, {
    method,
    headers: body ? { "content-type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: response.status, body: await response.json() };
}

/** Registers, confirms through the mailed link, and returns the refresh token it got. */
async function signedIn() {
  const email = `oauth-${crypto.randomUUID()}@example.com`;
  const registered = await json("/registration", "POST", {
    email,
    password,
    repeat_password: password,
  });
  assert.equal(registered.status, 200, JSON.stringify(registered.body));
  const data = await (await fetch(`${moto}/moto-api/data.json`)).json();
  const mail = data.ses.Message.find((m) => m.destinations.ToAddresses.includes(email));
  const prefix = confirmUrl.split("{code}")[0];
  const code = mail.body.slice(mail.body.indexOf(prefix) + prefix.length).match(/^[A-Za-z0-9_-]+/)[0];
  const confirmed = await json(`/registration/${code}`, "PATCH");
  assert.equal(confirmed.status, 200, JSON.stringify(confirmed.body));
  return confirmed.body.refresh_token;
}

async function authorizationServer() {
  const issuer = new URL(api);
  const response = await oauth.discoveryRequest(issuer, { algorithm: "oidc", ...insecure });
  return oauth.processDiscoveryResponse(issuer, response);
}

test("discovery names the token and revocation endpoints and only the refresh grant", async () => {
  const as = await authorizationServer();
  assert.equal(as.token_endpoint, `${api}/token`);
  assert.equal(as.revocation_endpoint, `${api}/logout`);
  assert.deepEqual(as.grant_types_supported, ["refresh_token"]);
  assert.equal(as.authorization_endpoint, undefined);
});

test("a refresh through the library rotates the token; a revoked one is invalid_grant", async () => {
  const as = await authorizationServer();
  const first = await signedIn();

  const response = await oauth.refreshTokenGrantRequest(as, client, clientAuth, first, insecure);
  const rotated = await oauth.processRefreshTokenResponse(as, client, response);
  assert.equal(rotated.token_type, "bearer");
  assert.ok(rotated.access_token.split(".").length === 3);
  assert.notEqual(rotated.refresh_token, first);
  assert.ok(rotated.expires_in > 0 && rotated.expires_in <= 900);

  const revoked = await oauth.revocationRequest(as, client, clientAuth, rotated.refresh_token, {
    additionalParameters: { token_type_hint: "refresh_token" },
    ...insecure,
  });
  await oauth.processRevocationResponse(revoked);

  const again = await oauth.refreshTokenGrantRequest(
    as,
    client,
    clientAuth,
    rotated.refresh_token,
    insecure,
  );
  await assert.rejects(oauth.processRefreshTokenResponse(as, client, again), (error) => {
    assert.ok(error instanceof oauth.ResponseBodyError, `${error.code}: ${error.message}`);
    assert.equal(error.error, "invalid_grant");
    assert.equal(typeof error.error_description, "string");
    assert.equal(error.status, 400);
    return true;
  });
});

test("an unknown refresh token is an OAuth error the library reads, not a parse failure", async () => {
  const as = await authorizationServer();
  const response = await oauth.refreshTokenGrantRequest(
    as,
    client,
    clientAuth,
    "x".repeat(43),
    insecure,
  );
  await assert.rejects(oauth.processRefreshTokenResponse(as, client, response), (error) => {
    assert.ok(error instanceof oauth.ResponseBodyError, `${error.code}: ${error.message}`);
    assert.equal(error.error, "invalid_grant");
    return true;
  });
  // Revoking an unknown token succeeds (RFC 7009 §2.2).
  const revoked = await oauth.revocationRequest(as, client, clientAuth, "y".repeat(43), insecure);
  await oauth.processRevocationResponse(revoked);
});
