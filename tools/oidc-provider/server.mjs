// A real OpenID provider (panva's oidc-provider) for local development and tests:
//   node tools/oidc-provider/server.mjs <port>
// serves the issuer http://127.0.0.1:<port> with one confidential client, `auth-service-local`,
// and the library's development interactions: a login form where any login name signs in and
// becomes the `sub` (email `<login>@example.com`, verified), then a consent form. The login
// name `deny` makes the provider answer the client with `error=access_denied` instead.
// Environment: LOCAL_OIDC_CLIENT_SECRET (default local-provider-secret) and
// LOCAL_OIDC_REDIRECT_URIS (comma-separated; default the `make dev` API's callback).
// Everything (keys, sessions, codes) lives in memory and is gone when it stops.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import * as querystring from 'node:querystring';

import Provider from 'oidc-provider';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error('usage: node server.mjs <port>');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;
const clientSecret = process.env.LOCAL_OIDC_CLIENT_SECRET || 'local-provider-secret';
const redirectUris = (process.env.LOCAL_OIDC_REDIRECT_URIS || 'http://127.0.0.1:3000/oauth/local/callback')
  .split(',')
  .map((uri) => uri.trim())
  .filter(Boolean);
const DENY_LOGIN = 'deny';

// The ID token signing key: a new RSA key on every start, published at the JWKS URI.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = {
  ...privateKey.export({ format: 'jwk' }),
  kid: `local-${randomBytes(6).toString('hex')}`,
  alg: 'RS256',
  use: 'sig',
};

function account(login) {
  return {
    accountId: login,
    async claims() {
      return {
        sub: login,
        email: `${login}@example.com`,
        email_verified: true,
        name: login,
      };
    },
  };
}

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'auth-service-local',
      client_secret: clientSecret,
      client_name: 'auth-service (local)',
      redirect_uris: redirectUris,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      // The library accepts client_secret_post from a client registered for basic as well.
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'RS256',
    },
  ],
  jwks: { keys: [signingKey] },
  scopes: ['openid', 'email', 'profile'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
  },
  // The scope's claims in the ID token itself, not only at the userinfo endpoint.
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  // Seconds; set so that the library does not remind us of its defaults on every request.
  ttl: {
    AccessToken: 3600,
    AuthorizationCode: 60,
    Grant: 14 * 24 * 3600,
    IdToken: 3600,
    Interaction: 3600,
    Session: 14 * 24 * 3600,
  },
  responseTypes: ['code'],
  findAccount: async (_ctx, sub) => account(sub),
  features: {
    devInteractions: { enabled: true },
  },
  // Cookies: _interaction (path /interaction/<uid>), _interaction_resume (path /auth/<uid>)
  // and _session (path /), httpOnly, SameSite=Lax, unsigned (no cookies.keys: no .sig
  // companions). The library adds `secure` only when the request itself is https, so they
  // work over plain http on 127.0.0.1; no `proxy`: nothing sits in front of it.
});

// What went wrong, for the request's log line (OAuth error codes and descriptions only).
function noteError(ctx, err) {
  ctx.state.error = [err.error || err.name, err.error_description, err.error_detail]
    .filter(Boolean)
    .join(': ');
}
provider.on('server_error', (ctx, err) => {
  noteError(ctx, err);
  console.error(err);
});
provider.on('authorization.error', noteError);
provider.on('grant.error', noteError);
provider.on('userinfo.error', noteError);
provider.on('discovery.error', noteError);

// One line per request: method, path (no query string, no body), status.
provider.use(async (ctx, next) => {
  const started = Date.now();
  try {
    await next();
  } finally {
    const error = ctx.state.error ? ` (${ctx.state.error})` : '';
    console.log(`${new Date().toISOString()} ${ctx.method} ${ctx.path} ${ctx.status} ${Date.now() - started}ms${error}`);
  }
});

// The development pages load a web font from the internet; the local provider works offline.
provider.use(async (ctx, next) => {
  await next();
  if (typeof ctx.body === 'string' && ctx.response.is('html')) {
    ctx.body = ctx.body.replace(/@import url\(https:\/\/fonts\.googleapis\.com[^)]*\);/g, '');
  }
});

// The login form's submission is handled here (as devInteractions does it: the login name
// becomes the account id), so that the login name `deny` can finish the interaction with
// access_denied, which the client receives at its redirect_uri. The consent form's
// submission is left to devInteractions.
provider.use(async (ctx, next) => {
  const match = ctx.method === 'POST' && /^\/interaction\/([^/]+)$/.exec(ctx.path);
  if (!match || !ctx.is('application/x-www-form-urlencoded')) {
    return next();
  }
  let details;
  try {
    details = await provider.interactionDetails(ctx.req, ctx.res);
  } catch {
    return next(); // no or unknown interaction: the library answers that
  }
  if (details.uid !== match[1] || details.prompt.name !== 'login') {
    return next();
  }
  const body = querystring.parse(await readBody(ctx.req));
  const login = typeof body.login === 'string' ? body.login : '';
  if (body.prompt !== 'login' || !login) {
    ctx.status = 400;
    ctx.type = 'text';
    ctx.body = 'the login form needs prompt=login and a login name';
    return undefined;
  }
  const result = login === DENY_LOGIN
    ? { error: 'access_denied', error_description: 'the user refused to sign in' }
    : { login: { accountId: login } };
  const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, {
    mergeWithLastSubmission: false,
  });
  ctx.set('cache-control', 'no-store');
  ctx.redirect(returnTo);
  ctx.status = 303;
  return undefined;
});

async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 64 * 1024) throw new Error('request body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

const server = provider.listen(port, '127.0.0.1', () => {
  console.log(`local OpenID provider: issuer ${issuer}, client auth-service-local, redirect_uris ${redirectUris.join(' ')}`);
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 1000).unref();
  });
}
