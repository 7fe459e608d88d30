// Drives the local provider the way a server-side client with a cookie jar does (fetch with
// manual redirects, no browser): starts server.mjs on a free port, reads the discovery
// document, runs the authorization code flow with PKCE S256 through the login and consent
// forms, redeems the code with client_secret_basic and verifies the ID token; then the login
// name `deny`, client_secret_post, and the errors a client must see. Prints every request.
//   node tools/oidc-provider/smoke.mjs        (needs `npm ci` here first, for jose)
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { strict as assert } from 'node:assert';

import { createRemoteJWKSet, jwtVerify } from 'jose';

const CLIENT_ID = 'auth-service-local';
const CLIENT_SECRET = 'smoke-secret';
const REDIRECT_URI = 'http://127.0.0.1:9/oauth/local/callback'; // never fetched

const port = await new Promise((resolve, reject) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const { port: p } = s.address();
    s.close(() => resolve(p));
  }).on('error', reject);
});
const issuer = `http://127.0.0.1:${port}`;
const child = spawn(process.execPath, [fileURLToPath(new URL('server.mjs', import.meta.url)), String(port)], {
  env: { ...process.env, LOCAL_OIDC_CLIENT_SECRET: CLIENT_SECRET, LOCAL_OIDC_REDIRECT_URIS: `https://elsewhere.example/cb,${REDIRECT_URI}` },
  stdio: ['ignore', 'pipe', 'pipe'],
});
let serverLog = '';
child.stdout.on('data', (d) => { serverLog += d; });
child.stderr.on('data', (d) => { serverLog += d; });
const stop = () => { if (child.exitCode === null) child.kill('SIGTERM'); };
process.on('exit', stop);

const b64u = (buf) => Buffer.from(buf).toString('base64url');

// A cookie jar that honours Path (the interaction cookies are scoped to one path each).
class Jar {
  cookies = new Map(); // `${path} ${name}` -> { name, value, path }

  store(url, response) {
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      let path = '/';
      let expired = value === '';
      for (const attr of attrs) {
        const [k, v = ''] = attr.split('=');
        if (k.toLowerCase() === 'path') path = v;
        if (k.toLowerCase() === 'expires' && Date.parse(v) <= Date.now()) expired = true;
        if (k.toLowerCase() === 'max-age' && Number(v) <= 0) expired = true;
        if (k.toLowerCase() === 'secure') throw new Error(`cookie ${name} is Secure over http`);
      }
      const key = `${path} ${name}`;
      if (expired) this.cookies.delete(key); else this.cookies.set(key, { name, value, path });
    }
  }

  header(url) {
    const { pathname } = new URL(url);
    return [...this.cookies.values()]
      .filter(({ path }) => pathname === path || pathname.startsWith(path.endsWith('/') ? path : `${path}/`))
      .map(({ name, value }) => `${name}=${value}`)
      .join('; ');
  }

  names() { return [...new Set([...this.cookies.values()].map((c) => c.name))].sort(); }
}

const trace = [];
async function request(jar, method, url, { form, headers = {} } = {}) {
  const init = { method, redirect: 'manual', headers: { ...headers } };
  const cookie = jar.header(url);
  if (cookie) init.headers.cookie = cookie;
  if (form) {
    init.headers['content-type'] = 'application/x-www-form-urlencoded';
    init.body = new URLSearchParams(form).toString();
  }
  const response = await fetch(url, init);
  jar.store(url, response);
  const location = response.headers.get('location');
  const sent = form ? ` [${Object.keys(form).join(', ')}]` : '';
  trace.push(`${method} ${new URL(url).pathname}${sent} -> ${response.status}${location ? ` Location: ${location.split('?')[0]}` : ''}${cookie ? `  (cookies sent: ${cookie.split('; ').map((c) => c.split('=')[0]).join(', ')})` : ''}`);
  return { response, location: location && new URL(location, url).href };
}

function form(html) {
  const tag = /<form\b[^>]*>/i.exec(html)?.[0] ?? '';
  const action = /action="([^"]+)"/.exec(tag)?.[1];
  assert.ok(action && /method="post"/i.test(tag), `a POST form on the page:\n${html}`);
  const fields = [...html.matchAll(/<input\b[^>]*>/g)].map(([input]) => ({
    name: /name="([^"]+)"/.exec(input)?.[1],
    value: (/value="([^"]*)"/.exec(input)?.[1] ?? '').replaceAll('&amp;', '&'),
  }));
  return { action: action.replaceAll('&amp;', '&'), fields };
}

// Follows redirects until one leaves for the client; answers a form with `answer(form)`.
async function authorize(jar, discovery, { login, pkce = true, extra = {} }) {
  const verifier = b64u(randomBytes(32));
  const state = b64u(randomBytes(16));
  const nonce = b64u(randomBytes(16));
  const url = new URL(discovery.authorization_endpoint);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: CLIENT_ID,
    redirect_uri: REDIRECT_URI,
    scope: 'openid email profile',
    state,
    nonce,
    ...(pkce ? { code_challenge: b64u(createHash('sha256').update(verifier).digest()), code_challenge_method: 'S256' } : {}),
    ...extra,
  }).toString();
  let next = { method: 'GET', url: url.href };
  const forms = [];
  for (let hop = 0; hop < 12; hop += 1) {
    const { response, location } = await request(jar, next.method, next.url, next);
    if (location?.startsWith(REDIRECT_URI)) {
      const params = Object.fromEntries(new URL(location).searchParams);
      return { params, verifier, state, nonce, forms };
    }
    if (location) {
      next = { method: 'GET', url: location };
      continue;
    }
    const html = await response.text();
    assert.equal(response.status, 200, `unexpected ${response.status}: ${html}`);
    const page = form(html);
    forms.push(page);
    const prompt = page.fields.find((f) => f.name === 'prompt')?.value;
    // The login form (prompt, login, password), the consent form (prompt), or the library's
    // self-submitting form that ends the previous user's session when another one signs in.
    const body = prompt === 'login'
      ? { prompt, login, password: 'anything' }
      : Object.fromEntries(page.fields.map(({ name, value }) => [name, value]));
    next = { method: 'POST', url: new URL(page.action, next.url).href, form: body };
  }
  throw new Error('too many hops');
}

async function token(params, { auth = 'basic', secret = CLIENT_SECRET } = {}, discovery) {
  const headers = {};
  const form = { grant_type: 'authorization_code', code: params.code, redirect_uri: REDIRECT_URI, code_verifier: params.verifier };
  if (auth === 'basic') {
    headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(CLIENT_ID)}:${encodeURIComponent(secret)}`).toString('base64')}`;
  } else {
    Object.assign(form, { client_id: CLIENT_ID, client_secret: secret });
  }
  const { response } = await request(new Jar(), 'POST', discovery.token_endpoint, { form, headers });
  return { status: response.status, body: await response.json() };
}

try {
  // The server is up when the discovery document answers.
  let discovery;
  for (let i = 0; ; i += 1) {
    try {
      const r = await fetch(`${issuer}/.well-known/openid-configuration`);
      if (r.ok) { discovery = await r.json(); break; }
    } catch { /* not listening yet */ }
    if (i > 100 || child.exitCode !== null) throw new Error(`the provider did not start:\n${serverLog}`);
    await new Promise((r) => { setTimeout(r, 100); });
  }
  assert.equal(discovery.issuer, issuer);
  assert.deepEqual(discovery.code_challenge_methods_supported, ['S256']);
  assert.ok(discovery.id_token_signing_alg_values_supported.includes('RS256'));
  for (const scope of ['openid', 'email', 'profile']) assert.ok(discovery.scopes_supported.includes(scope));
  const jwks = await (await fetch(discovery.jwks_uri)).json();
  assert.equal(jwks.keys.length, 1);
  assert.equal(jwks.keys[0].kty, 'RSA');
  assert.equal(jwks.keys[0].alg, 'RS256');
  assert.equal(jwks.keys[0].d, undefined, 'no private part in the JWKS');

  // 1. The code flow, login `alice`.
  trace.push('-- code flow, login alice');
  const jar = new Jar();
  const flow = await authorize(jar, discovery, { login: 'alice' });
  assert.equal(flow.params.state, flow.state);
  assert.equal(flow.params.iss, issuer);
  assert.ok(flow.params.code);
  assert.deepEqual(flow.forms.map((f) => f.fields.map((x) => x.name)), [['prompt', 'login', 'password'], ['prompt']]);
  const cookieNames = jar.names();
  const redeemed = await token({ ...flow.params, verifier: flow.verifier }, {}, discovery);
  assert.equal(redeemed.status, 200, JSON.stringify(redeemed.body));
  assert.equal(redeemed.body.token_type, 'Bearer');
  const { payload, protectedHeader } = await jwtVerify(redeemed.body.id_token, createRemoteJWKSet(new URL(discovery.jwks_uri)), {
    issuer, audience: CLIENT_ID, algorithms: ['RS256'],
  });
  assert.equal(protectedHeader.kid, jwks.keys[0].kid);
  assert.equal(payload.sub, 'alice');
  assert.equal(payload.email, 'alice@example.com');
  assert.equal(payload.email_verified, true);
  assert.equal(payload.name, 'alice');
  assert.equal(payload.nonce, flow.nonce);
  const userinfo = await (await fetch(discovery.userinfo_endpoint, { headers: { authorization: `Bearer ${redeemed.body.access_token}` } })).json();
  assert.deepEqual(userinfo, { sub: 'alice', email: 'alice@example.com', email_verified: true, name: 'alice' });

  // 2. The same browser (cookie jar) again: signed in and consented, straight back with a code.
  trace.push('-- the same jar again (session and grant remembered)');
  const sso = await authorize(jar, discovery, { login: 'unused' });
  assert.equal(sso.forms.length, 0);
  assert.ok(sso.params.code);
  // ...unless the client asks for prompt=login.
  trace.push('-- the same jar with prompt=login, login bob');
  const relogin = await authorize(jar, discovery, { login: 'bob', extra: { prompt: 'login' } });
  // login form, the end-of-session form (another user on a live session), consent form
  assert.deepEqual(relogin.forms.map((f) => f.fields.map((x) => x.name)), [['prompt', 'login', 'password'], ['xsrf', 'logout'], ['prompt']]);
  const bob = await token({ ...relogin.params, verifier: relogin.verifier }, { auth: 'post' }, discovery);
  assert.equal(bob.status, 200, 'client_secret_post accepted too');
  assert.equal(JSON.parse(Buffer.from(bob.body.id_token.split('.')[1], 'base64url')).sub, 'bob');

  trace.push('-- the code again');
  // 3. The code is single use (and its reuse revokes the grant: consent is asked again).
  const again = await token({ ...flow.params, verifier: flow.verifier }, {}, discovery);
  assert.equal(again.status, 400);
  assert.equal(again.body.error, 'invalid_grant');

  // 4. The wrong verifier, the wrong secret.
  trace.push('-- login carol; the wrong code_verifier, then the wrong client secret');
  const other = await authorize(new Jar(), discovery, { login: 'carol' });
  assert.equal((await token({ ...other.params, verifier: b64u(randomBytes(32)) }, {}, discovery)).body.error, 'invalid_grant');
  assert.equal((await token({ ...other.params, verifier: other.verifier }, { secret: 'wrong' }, discovery)).body.error, 'invalid_client');

  // 5. PKCE is required.
  trace.push('-- no PKCE');
  const nopkce = await authorize(new Jar(), discovery, { login: 'dave', pkce: false });
  assert.equal(nopkce.params.error, 'invalid_request');
  assert.equal(nopkce.params.state, nopkce.state);

  // 6. The login name `deny`: an OAuth error at the redirect_uri.
  trace.push('-- login deny');
  const denied = await authorize(new Jar(), discovery, { login: 'deny' });
  assert.equal(denied.params.error, 'access_denied');
  assert.equal(denied.params.state, denied.state);
  assert.equal(denied.params.iss, issuer);
  assert.equal(denied.params.code, undefined);

  console.log(trace.join('\n'));
  console.log(`cookies set by the provider: ${cookieNames.join(', ')}`);
  console.log(`ID token claims: ${JSON.stringify(payload)}`);
  console.log('\nsmoke: the local OpenID provider passed');
} catch (err) {
  console.log(trace.join('\n'));
  console.error(`smoke: FAILED: ${err.stack}\nthe provider's log:\n${serverLog}`);
  process.exitCode = 1;
} finally {
  stop();
}
