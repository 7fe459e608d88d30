/**
 * A typed client for auth-service. One function per route, with request and response types
 * generated from the service's OpenAPI document (`src/schema.ts`, from
 * `openapi/openapi.yaml`); errors thrown as {@link AuthError} with the problem's `code` and a
 * 429's `retryAfter`; a {@link TokenStore} that keeps the session for every tab of a
 * browser and refreshes it once for all of them; {@link passkeys}, the browser's side of
 * the WebAuthn ceremonies; and {@link readProviderReturn}, which reads what a sign-in with
 * another provider returned to the page. No runtime dependency beyond `fetch` (and WebAuthn
 * for passkeys).
 */
import type { components, operations } from "./schema.js";

export type Schemas = components["schemas"];
export type TokenPair = Schemas["TokenPair"];
export type Registered = Schemas["Registered"];
export type Confirmed = Schemas["Confirmed"];
export type ResetDone = Schemas["ResetDone"];
export type Session = Schemas["Session"];
/** One record of the account's audit trail (`GET /me/activity`). */
export type Activity = Schemas["Activity"];
/** A page of the audit trail, newest first; `next_cursor` is absent on the last page. */
export type ActivityPage = Schemas["ActivityPage"];
/** `listActivity`'s query: a page's `next_cursor` as `cursor`, and `limit` (1 to 100, default 20). */
export type ActivityQuery = NonNullable<operations["listActivity"]["parameters"]["query"]>;
export type Me = Schemas["Me"];
export type IdentifierChanged = Schemas["IdentifierChanged"];
export type Channel = Schemas["Channel"];
export type Problem = Schemas["Problem"];
export type JwkSet = Schemas["JwkSet"];
export type Discovery = Schemas["Discovery"];

type JsonBody<K extends keyof operations> = operations[K] extends {
  requestBody?: { content: { "application/json": infer B } };
}
  ? B
  : never;

export type RegisterRequest = JsonBody<"register">;
export type IdentifierRequest = JsonBody<"resendCode">;
export type LoginRequest = JsonBody<"login">;
export type OtpRequest = JsonBody<"loginWithOtp">;
export type ResetRequest = JsonBody<"resetPassword">;
export type ChangePasswordRequest = JsonBody<"changePassword">;
export type IdentifierChangeRequest = JsonBody<"requestIdentifierChange">;
export type MfaRequest = JsonBody<"loginWithSecondFactor">;
export type TotpEnrolment = Schemas["TotpEnrolment"];
export type SecondFactor = NonNullable<Problem["methods"]>[number];
export type Passkey = Schemas["Passkey"];
/** WebAuthn's `PublicKeyCredentialCreationOptionsJSON`, as the service sends it. */
export type PasskeyCreationOptions = Schemas["PasskeyCreationOptions"];
/** WebAuthn's `PublicKeyCredentialRequestOptionsJSON`, as the service sends it. */
export type PasskeyRequestOptions = Schemas["PasskeyRequestOptions"];
export type PasskeyCreationCeremony = Schemas["PasskeyCreationCeremony"];
export type PasskeyRequestCeremony = Schemas["PasskeyRequestCeremony"];
/** WebAuthn's `RegistrationResponseJSON`: `PublicKeyCredential.toJSON()` after `create`. */
export type RegistrationResponse = Schemas["RegistrationResponse"];
/** WebAuthn's `AuthenticationResponseJSON`: `PublicKeyCredential.toJSON()` after `get`. */
export type AuthenticationResponse = Schemas["AuthenticationResponse"];
export type PasskeyAddRequest = JsonBody<"addPasskey">;
export type PasskeySignInRequest = JsonBody<"signInWithPasskey">;
/** What a provider's flow returned to the frontend page, in its fragment: a sign-in's
 * one-time `code`, a link's `linked` provider, or an `error` (see {@link readProviderReturn}). */
export type ProviderReturn = Schemas["ProviderReturn"];
/** Why a provider's flow ended without signing in or linking. */
export type ProviderReturnError = Schemas["ProviderReturnError"];

/** Every `code` an error response of the document can carry. */
type ResponseBodies = {
  [K in keyof operations]: {
    [S in keyof operations[K]["responses"]]: operations[K]["responses"][S] extends {
      content: infer C;
    }
      ? C[keyof C]
      : never;
  }[keyof operations[K]["responses"]];
}[keyof operations];
type DocumentedCode = Exclude<
  ResponseBodies extends infer R ? (R extends { code: infer C } ? C : never) : never,
  undefined
>;

/** The codes, at run time; the type check below fails the build if they drift. */
export const ERROR_CODES = [
  "invalid_request",
  "invalid_email",
  "invalid_phone",
  "password_mismatch",
  "weak_password",
  "user_exists",
  "delivery_failed",
  "invalid_code",
  "already_verified",
  "too_many_attempts",
  "user_not_found",
  "invalid_credentials",
  "account_disabled",
  "verification_required",
  "mfa_required",
  "invalid_challenge",
  "invalid_credential",
  "reauthentication_required",
  "totp_already_enabled",
  "totp_not_enabled",
  "passkey_not_found",
  "too_many_passkeys",
  "provider_not_found",
  "invalid_redirect_uri",
  "invalid_state",
  "provider_unavailable",
  "provider_already_linked",
  "provider_not_linked",
  "last_sign_in_method",
  "invalid_grant",
  "unsupported_grant_type",
  "invalid_token",
  "session_not_found",
  "payload_too_large",
  "unsupported_media_type",
  "rate_limited",
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const codesMatchTheDocument: Same<ErrorCode, DocumentedCode> = true;
void codesMatchTheDocument;

/** A refused request: the problem document's `code` (or `internal_error` for a 5xx,
 * `network_error` when no answer came), its HTTP status, and for a 429 the seconds to wait. */
export class AuthError extends Error {
  readonly status: number;
  readonly code: ErrorCode | "internal_error" | "network_error";
  /** Whole seconds from `Retry-After`, on every 429. */
  readonly retryAfter: number | undefined;
  /** `verification_required`: the challenge to answer with {@link AuthClient.loginWithOtp};
   * `mfa_required`: the one to answer with {@link AuthClient.loginWithSecondFactor}. */
  readonly challengeId: string | undefined;
  readonly channel: Channel | undefined;
  /** `mfa_required`: the second factors this account can use. */
  readonly methods: SecondFactor[] | undefined;
  /** `mfa_required` with `passkey` among `methods`: the request options naming the account's
   * passkeys (`passkey_options`), for {@link passkeys.secondFactor}. */
  readonly passkeyOptions: PasskeyRequestOptions | undefined;
  readonly problem: Problem | undefined;

  constructor(status: number, problem: Problem | undefined, retryAfter: number | undefined) {
    super(problem?.detail ?? (status === 0 ? "the service could not be reached" : `HTTP ${status}`));
    this.name = "AuthError";
    this.status = status;
    const known = (ERROR_CODES as readonly string[]).includes(problem?.code ?? "");
    this.code = known
      ? (problem!.code as ErrorCode)
      : status === 0
        ? "network_error"
        : "internal_error";
    this.retryAfter = retryAfter;
    this.challengeId = problem?.challenge_id;
    this.channel = problem?.channel;
    this.methods = problem?.methods;
    this.passkeyOptions = problem?.passkey_options;
    this.problem = problem;
  }
}

/** What {@link TokenStore} keeps: the pair, with absolute expiry times (ms since epoch). */
export interface StoredSession {
  accessToken: string;
  accessExpiresAt: number;
  refreshToken: string;
  refreshExpiresAt: number;
}

/** The part of the Web Storage API the store uses (`localStorage` has it). */
export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** The part of the Web Locks API the store uses (`navigator.locks` has it). */
export interface LockManagerLike {
  request<T>(name: string, callback: () => Promise<T>): Promise<T>;
}

/** A storage kept in memory: one tab's only (and tests'). */
export function memoryStorage(): StorageLike {
  const items = new Map<string, string>();
  return {
    getItem: (key) => items.get(key) ?? null,
    setItem: (key, value) => void items.set(key, value),
    removeItem: (key) => void items.delete(key),
  };
}

/** An exclusive lock within one JavaScript realm, for where there is no `navigator.locks`. */
export function localLocks(): LockManagerLike {
  const tails = new Map<string, Promise<unknown>>();
  return {
    request<T>(name: string, callback: () => Promise<T>): Promise<T> {
      const previous = tails.get(name) ?? Promise.resolve();
      const run = previous.then(callback, callback);
      tails.set(
        name,
        run.catch(() => undefined),
      );
      return run;
    },
  };
}

export interface TokenStoreOptions {
  /** Default: `localStorage` where there is one (shared by every tab of the origin), else memory. */
  storage?: StorageLike;
  /** Default: `navigator.locks` where there is one, else a lock of this realm. */
  locks?: LockManagerLike;
  /** The storage key; the refresh lock is named after it. */
  key?: string;
  /** Refresh this long before the access token expires. Default 30 s. */
  leewayMs?: number;
  now?: () => number;
}

/**
 * The session of a browser: one pair for every tab (in `localStorage`), refreshed under a Web
 * Lock so that when several tabs need a fresh access token at once, one refreshes and the
 * others, once they hold the lock, find its new pair in storage and use it. Two tabs
 * therefore never present the same refresh token twice, and the service's reuse detection
 * never signs the user out. The access token is refreshed before it expires (`leewayMs`).
 */
export class TokenStore {
  private readonly storage: StorageLike;
  private readonly locks: LockManagerLike;
  private readonly key: string;
  private readonly leewayMs: number;
  private readonly now: () => number;

  constructor(options: TokenStoreOptions = {}) {
    const g = globalThis as { localStorage?: StorageLike; navigator?: { locks?: LockManagerLike } };
    this.storage = options.storage ?? g.localStorage ?? memoryStorage();
    this.locks = options.locks ?? g.navigator?.locks ?? localLocks();
    this.key = options.key ?? "auth-service.session";
    this.leewayMs = options.leewayMs ?? 30_000;
    this.now = options.now ?? Date.now;
  }

  get(): StoredSession | null {
    const raw = this.storage.getItem(this.key);
    if (!raw) return null;
    try {
      const session = JSON.parse(raw) as StoredSession;
      return session.refreshExpiresAt > this.now() ? session : null;
    } catch {
      return null;
    }
  }

  set(pair: TokenPair): StoredSession {
    const now = this.now();
    const session: StoredSession = {
      accessToken: pair.access_token,
      accessExpiresAt: now + pair.expires_in * 1000,
      refreshToken: pair.refresh_token,
      refreshExpiresAt: now + pair.refresh_expires_in * 1000,
    };
    this.storage.setItem(this.key, JSON.stringify(session));
    return session;
  }

  clear(): void {
    this.storage.removeItem(this.key);
  }

  /**
   * A usable access token: the stored one while it is fresh, else a refreshed one. Only one
   * refresh runs at a time across tabs; whoever waited for it uses its result. `stale` names
   * an access token the service refused, to be replaced even if it looks fresh.
   */
  async accessToken(
    refresh: (refreshToken: string) => Promise<TokenPair>,
    stale?: string,
  ): Promise<string | null> {
    const seen = this.get();
    if (!seen) return null;
    if (seen.accessToken !== stale && seen.accessExpiresAt - this.leewayMs > this.now()) {
      return seen.accessToken;
    }
    return this.locks.request(`${this.key}:refresh`, async () => {
      // Read again inside the lock: another tab may have refreshed meanwhile.
      const current = this.get();
      if (!current) return null;
      const refreshedElsewhere = current.refreshToken !== seen.refreshToken;
      const fresh =
        current.accessToken !== stale && current.accessExpiresAt - this.leewayMs > this.now();
      if (refreshedElsewhere || fresh) return current.accessToken;
      try {
        return this.set(await refresh(current.refreshToken)).accessToken;
      } catch (error) {
        // The session ended (revoked, expired, reused, or the account disabled): forget it.
        if (error instanceof AuthError && (error.code === "invalid_grant" || error.code === "account_disabled")) this.clear();
        throw error;
      }
    });
  }
}

export interface AuthClientOptions {
  /** The API's base URL, e.g. `https://abc123.execute-api.eu-west-1.amazonaws.com/prod`. */
  baseUrl: string;
  store?: TokenStore;
  fetch?: typeof fetch;
}

type Method = "GET" | "POST" | "PATCH" | "DELETE";

interface Call {
  body?: unknown;
  form?: Record<string, string>;
  bearer?: boolean;
}

/** The API, one method per route. Methods that sign in keep the pair in the store. */
export class AuthClient {
  readonly store: TokenStore;
  private readonly baseUrl: string;
  private readonly fetchFn: typeof fetch;

  constructor(options: AuthClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.store = options.store ?? new TokenStore();
    this.fetchFn = options.fetch ?? globalThis.fetch.bind(globalThis);
  }

  /** Whether a session is stored (it may still turn out to be revoked). */
  get signedIn(): boolean {
    return this.store.get() !== null;
  }

  // Registration and sign-in --------------------------------------------------------------

  register(body: RegisterRequest): Promise<Registered> {
    return this.call("POST", "/registration", { body });
  }

  /** `phone` with a 6-digit SMS code; nothing with an email link's code. Signs in. */
  async confirmRegistration(code: string, phone?: string): Promise<Confirmed> {
    const confirmed = await this.call<Confirmed>("PATCH", `/registration/${encodeURIComponent(code)}`, {
      body: phone === undefined ? undefined : { phone },
    });
    this.store.set(confirmed);
    return confirmed;
  }

  /**
   * "I did not sign up": deletes the unverified account the code belongs to and frees its
   * identifier. `phone` with a 6-digit SMS code; nothing with an email link's code.
   */
  async declineRegistration(code: string, phone?: string): Promise<void> {
    await this.call<void>("DELETE", `/registration/${encodeURIComponent(code)}`, {
      body: phone === undefined ? undefined : { phone },
    });
  }

  resendCode(body: IdentifierRequest): Promise<{ channel: Channel }> {
    return this.call("POST", "/registration/resend_code", { body });
  }

  /** Signs in; an unverified identifier throws `verification_required` with `challengeId`. */
  async login(body: LoginRequest): Promise<TokenPair> {
    return this.keep(await this.call<TokenPair>("POST", "/login", { body }));
  }

  async loginWithOtp(body: OtpRequest): Promise<TokenPair> {
    return this.keep(await this.call<TokenPair>("POST", "/login/otp", { body }));
  }

  /** Finishes a sign-in (or a password reset) that threw `mfa_required`, with its
   * `challengeId` and one of `totp`, `recovery_code` or `credential` (an assertion to its
   * `passkeyOptions`: {@link passkeys.secondFactor} makes one and calls this). */
  async loginWithSecondFactor(body: MfaRequest): Promise<TokenPair> {
    return this.keep(await this.call<TokenPair>("POST", "/login/mfa", { body }));
  }

  /** Starts a sign-in with a passkey, no identifier typed: the ceremony's id and the
   * options for `navigator.credentials.get` (5 minutes, used once). */
  passkeySignInOptions(): Promise<PasskeyRequestCeremony> {
    return this.call("POST", "/login/passkey/options", {});
  }

  /** Signs in with the assertion to {@link passkeySignInOptions}' options; see
   * {@link passkeys.signIn} for the whole ceremony. */
  async signInWithPasskey(body: PasskeySignInRequest): Promise<TokenPair> {
    return this.keep(await this.call<TokenPair>("POST", "/login/passkey", { body }));
  }

  /**
   * The URL that starts a sign-in with another provider (`GET /oauth/{provider}/start`):
   * navigate the browser to it (`location.assign`); it is not for `fetch`. The provider
   * sends the browser back to `redirectUri` (one of the frontend pages the service is
   * configured with, matched exactly) with the outcome in the fragment: read it with
   * {@link readProviderReturn}, then trade its `code` with {@link finishProviderSignIn}.
   */
  startProviderSignIn(provider: string, redirectUri: string): string {
    const query = new URLSearchParams({ redirect_uri: redirectUri });
    return `${this.baseUrl}/oauth/${encodeURIComponent(provider)}/start?${query}`;
  }

  /** Signs in with the one-time code a provider's sign-in returned (`#code=`; 2 minutes,
   * used once, else `invalid_code`). An account with a second factor throws `mfa_required`,
   * as {@link login} does. */
  async finishProviderSignIn(code: string): Promise<TokenPair> {
    return this.keep(await this.call<TokenPair>("POST", "/login/provider", { body: { code } }));
  }

  /** Refreshes the stored session now (through the store's lock); returns the access token. */
  async refresh(): Promise<string | null> {
    const stored = this.store.get();
    return this.store.accessToken((token) => this.refreshToken(token), stored?.accessToken);
  }

  /** `POST /token` with a given refresh token; the store is not touched. */
  refreshToken(refreshToken: string): Promise<TokenPair> {
    return this.call("POST", "/token", { body: { refresh_token: refreshToken } });
  }

  /** Ends this session on the service and forgets it here. */
  async logout(): Promise<void> {
    const stored = this.store.get();
    this.store.clear();
    if (stored) await this.call("POST", "/logout", { body: { refresh_token: stored.refreshToken } });
  }

  jwks(): Promise<JwkSet> {
    return this.call("GET", "/.well-known/jwks.json", {});
  }

  openidConfiguration(): Promise<Discovery> {
    return this.call("GET", "/.well-known/openid-configuration", {});
  }

  // Recovery -------------------------------------------------------------------------------

  /** Resolves the same whether or not an account holds the identifier. */
  async forgotPassword(body: IdentifierRequest): Promise<void> {
    await this.call("POST", "/password/forgot", { body });
  }

  /** Sets the new password with the code; every other session ends; signs in. */
  async resetPassword(body: ResetRequest): Promise<ResetDone> {
    const done = await this.call<ResetDone>("POST", "/password/reset", { body });
    this.store.set(done);
    return done;
  }

  // Bearer routes --------------------------------------------------------------------------

  async changePassword(body: ChangePasswordRequest): Promise<TokenPair> {
    return this.keep(await this.call<TokenPair>("POST", "/password/change", { body, bearer: true }));
  }

  async listSessions(): Promise<Session[]> {
    const list = await this.call<Schemas["SessionList"]>("GET", "/sessions", { bearer: true });
    return list.sessions;
  }

  async revokeSession(id: string): Promise<void> {
    await this.call("DELETE", `/sessions/${encodeURIComponent(id)}`, { bearer: true });
  }

  /** Signs out everywhere, this tab included. */
  async revokeAllSessions(): Promise<void> {
    await this.call("DELETE", "/sessions", { bearer: true });
    this.store.clear();
  }

  getMe(): Promise<Me> {
    return this.call("GET", "/me", { bearer: true });
  }

  /** A page of the account's audit trail, newest first (20 records unless `limit` says, at
   * most 100); pass the page's `next_cursor` as `cursor` for the next one. A cursor no page
   * handed out, or a `limit` outside 1 to 100, is `invalid_request`. */
  listActivity(query: ActivityQuery = {}): Promise<ActivityPage> {
    const params = new URLSearchParams();
    if (query.cursor !== undefined) params.set("cursor", query.cursor);
    if (query.limit !== undefined) params.set("limit", String(query.limit));
    const search = params.toString();
    return this.call("GET", `/me/activity${search ? `?${search}` : ""}`, { bearer: true });
  }

  requestIdentifierChange(body: IdentifierChangeRequest): Promise<{ channel: Channel }> {
    return this.call("POST", "/me/identifier", { body, bearer: true });
  }

  confirmIdentifierChange(code: string, phone?: string): Promise<IdentifierChanged> {
    return this.call("PATCH", `/me/identifier/${encodeURIComponent(code)}`, {
      body: phone === undefined ? undefined : { phone },
      bearer: true,
    });
  }

  /** Starts turning on an authenticator app: its secret and `otpauth://` URI, once. Needs a
   * sign-in within 10 minutes, or `password` (else `reauthentication_required`). */
  startTotpEnrolment(password?: string): Promise<TotpEnrolment> {
    return this.call("POST", "/me/totp", {
      body: password === undefined ? undefined : { password },
      bearer: true,
    });
  }

  /** Turns the pending authenticator app on with its current code; the 10 recovery codes,
   * shown only now. */
  async confirmTotp(totp: string): Promise<string[]> {
    const done = await this.call<Schemas["RecoveryCodes"]>("POST", "/me/totp/confirm", {
      body: { totp },
      bearer: true,
    });
    return done.recovery_codes;
  }

  async disableTotp(password: string, totp: string): Promise<void> {
    await this.call("DELETE", "/me/totp", { body: { password, totp }, bearer: true });
  }

  /** New recovery codes (the old ones stop working); the same step-up as enrolment. */
  async replaceRecoveryCodes(password?: string): Promise<string[]> {
    const done = await this.call<Schemas["RecoveryCodes"]>("POST", "/me/totp/recovery-codes", {
      body: password === undefined ? undefined : { password },
      bearer: true,
    });
    return done.recovery_codes;
  }

  /** Starts adding a passkey: the ceremony's id and the options for
   * `navigator.credentials.create` (5 minutes, used once). Needs a sign-in within 10 minutes,
   * or `password` (else `reauthentication_required`); `too_many_passkeys` at 10. */
  passkeyRegistrationOptions(password?: string): Promise<PasskeyCreationCeremony> {
    return this.call("POST", "/me/passkeys/options", {
      body: password === undefined ? undefined : { password },
      bearer: true,
    });
  }

  /** Adds the passkey the authenticator made for {@link passkeyRegistrationOptions}' options;
   * see {@link passkeys.register} for the whole ceremony. */
  addPasskey(body: PasskeyAddRequest): Promise<Passkey> {
    return this.call("POST", "/me/passkeys", { body, bearer: true });
  }

  /** The account's passkeys, oldest first, each with `last_used_at` once it has signed in. */
  async listPasskeys(): Promise<Passkey[]> {
    const list = await this.call<Schemas["PasskeyList"]>("GET", "/me/passkeys", { bearer: true });
    return list.passkeys;
  }

  renamePasskey(id: string, name: string): Promise<Passkey> {
    return this.call("PATCH", `/me/passkeys/${encodeURIComponent(id)}`, { body: { name }, bearer: true });
  }

  /** Removes a passkey; the same step-up as adding one. */
  async removePasskey(id: string, password?: string): Promise<void> {
    await this.call("DELETE", `/me/passkeys/${encodeURIComponent(id)}`, {
      body: password === undefined ? undefined : { password },
      bearer: true,
    });
  }

  /**
   * Starts linking `provider` to the signed-in account: the provider's authorization URL, to
   * navigate the browser to. Once the user signs in there, the browser comes back to
   * `redirectUri` with `#linked=` or `#error=` ({@link readProviderReturn}). Needs a sign-in
   * within 10 minutes, or `password` (else `reauthentication_required`);
   * `provider_already_linked` when the account has one of this provider's identities.
   */
  async linkProvider(provider: string, redirectUri: string, password?: string): Promise<string> {
    const started = await this.call<Schemas["ProviderAuthorization"]>("POST", `/me/providers/${encodeURIComponent(provider)}`, {
      body: { redirect_uri: redirectUri, ...(password === undefined ? {} : { password }) },
      bearer: true,
    });
    return started.authorization_url;
  }

  /** Unlinks a provider; the same step-up as linking. `last_sign_in_method` when it is the
   * account's only way to sign in (no password, no other provider, no passkey). */
  async unlinkProvider(provider: string, password?: string): Promise<void> {
    await this.call("DELETE", `/me/providers/${encodeURIComponent(provider)}`, {
      body: password === undefined ? undefined : { password },
      bearer: true,
    });
  }

  async deleteMe(password: string): Promise<void> {
    await this.call("DELETE", "/me", { body: { password }, bearer: true });
    this.store.clear();
  }

  // ---------------------------------------------------------------------------------------

  private keep(pair: TokenPair): TokenPair {
    this.store.set(pair);
    return pair;
  }

  private async call<T>(method: Method, path: string, call: Call): Promise<T> {
    if (!call.bearer) return (await this.send(method, path, call, undefined)) as T;
    const refresh = (token: string) => this.refreshToken(token);
    const token = await this.store.accessToken(refresh);
    if (!token) throw new AuthError(401, NOT_SIGNED_IN, undefined);
    try {
      return (await this.send(method, path, call, token)) as T;
    } catch (error) {
      // An operator disabled the account: its sessions ended with it, so forget this one.
      if (error instanceof AuthError && error.code === "account_disabled") this.store.clear();
      // Refused although it looked fresh (a clock off, a key rotated): refresh once, retry once.
      if (!(error instanceof AuthError) || error.code !== "invalid_token") throw error;
      const again = await this.store.accessToken(refresh, token).catch(() => null);
      if (!again || again === token) throw error;
      return (await this.send(method, path, call, again)) as T;
    }
  }

  private async send(method: Method, path: string, call: Call, bearer: string | undefined): Promise<unknown> {
    const headers: Record<string, string> = {};
    let body: string | undefined;
    if (call.body !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(call.body);
    } else if (call.form) {
      headers["content-type"] = "application/x-www-form-urlencoded";
      body = new URLSearchParams(call.form).toString();
    }
    if (bearer) headers.authorization = `Bearer ${bearer}`;
    let response: Response;
    try {
      response = await this.fetchFn(this.baseUrl + path, { method, headers, body: body ?? null });
    } catch {
      throw new AuthError(0, undefined, undefined);
    }
    const text = await response.text();
    const json: unknown = text ? safeJson(text) : undefined;
    if (response.ok) return json;
    const retry = response.headers.get("retry-after");
    throw new AuthError(
      response.status,
      isProblem(json) ? json : undefined,
      retry === null ? undefined : Number(retry),
    );
  }
}

/** What a bearer method throws when no session is stored: the service's own answer to it. */
const NOT_SIGNED_IN: Problem = {
  type: "https://auth-service.dev/problems/invalid-token",
  title: "Invalid access token",
  status: 401,
  code: "invalid_token",
  detail: "no session is stored; sign in first",
};

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isProblem(value: unknown): value is Problem {
  return typeof value === "object" && value !== null && typeof (value as Problem).code === "string";
}

// Other providers ----------------------------------------------------------------------------

/**
 * What a provider's flow returned to the frontend page, from its fragment (`location.hash`,
 * with or without the `#`): `{ code }` after a sign-in (for
 * {@link AuthClient.finishProviderSignIn}), `{ linked, provider }` after a link, or
 * `{ error, provider }`; `null` when the fragment holds none of them. The fragment carries a
 * sign-in code: remove it from the address bar and the history once read
 * (`history.replaceState(history.state, "", location.pathname + location.search)`).
 */
export function readProviderReturn(hash: string): ProviderReturn | null {
  const pairs = new URLSearchParams(hash.startsWith("#") ? hash.slice(1) : hash);
  const code = pairs.get("code");
  const linked = pairs.get("linked");
  const error = pairs.get("error");
  const provider = pairs.get("provider") ?? "";
  if (error) return { error: error as ProviderReturnError, provider };
  if (linked) return { linked, provider: provider || linked };
  if (code) return { code };
  return null;
}

// Passkeys ---------------------------------------------------------------------------------

export interface PasskeyRegistration {
  /** What the account page lists it as (1 to 64 characters); the service says `Passkey`
   * without one. */
  name?: string;
  /** The step-up, when the sign-in is over 10 minutes old (else `reauthentication_required`). */
  password?: string;
  /** Cancels the browser's prompt. */
  signal?: AbortSignal;
}

export interface PasskeyPrompt {
  /** Cancels the browser's prompt. */
  signal?: AbortSignal;
}

/** What {@link passkeys.secondFactor} needs of an `mfa_required` {@link AuthError}. */
export interface PasskeyChallenge {
  challengeId: string | undefined;
  passkeyOptions: PasskeyRequestOptions | undefined;
}

/**
 * The browser's side of the passkey ceremonies: each asks the service for options, hands
 * them to `navigator.credentials`, and sends the authenticator's answer back. The options go
 * through `PublicKeyCredential.parseCreationOptionsFromJSON` / `parseRequestOptionsFromJSON`
 * where the browser has them, else their binary members are decoded here; the answer goes
 * back as `credential.toJSON()` gives it, or as the same JSON built here where the browser
 * has no `toJSON`. A prompt the user closes, or one that times out, rejects with the
 * browser's `NotAllowedError` (a `DOMException`); an authenticator that already holds one of
 * the account's passkeys refuses to make another with `InvalidStateError`.
 */
export const passkeys = {
  /** Whether this browser has WebAuthn at all (a secure context: https, or localhost). */
  supported(): boolean {
    const g = globalThis as { PublicKeyCredential?: unknown; navigator?: { credentials?: unknown } };
    return typeof g.PublicKeyCredential === "function" && g.navigator?.credentials !== undefined;
  },

  /** Adds a passkey of this device (or a phone or security key the browser offers) to the
   * signed-in account: options, `navigator.credentials.create`, then `POST /me/passkeys`. */
  async register(client: AuthClient, registration: PasskeyRegistration = {}): Promise<Passkey> {
    const { challenge_id, options } = await client.passkeyRegistrationOptions(registration.password);
    const credential = await passkeys.create(options, registration);
    return client.addPasskey({
      challenge_id,
      credential,
      ...(registration.name === undefined ? {} : { name: registration.name }),
    });
  },

  /** Signs in with any passkey the authenticator holds for this site, no identifier typed:
   * options, `navigator.credentials.get`, then `POST /login/passkey`. */
  async signIn(client: AuthClient, prompt: PasskeyPrompt = {}): Promise<TokenPair> {
    const { challenge_id, options } = await client.passkeySignInOptions();
    const credential = await passkeys.get(options, prompt);
    return client.signInWithPasskey({ challenge_id, credential });
  },

  /** Finishes a sign-in (or a password reset) that threw `mfa_required` with `passkey` among
   * its methods: the account's passkey answers its `passkeyOptions`, then `POST /login/mfa`. */
  async secondFactor(client: AuthClient, challenge: PasskeyChallenge, prompt: PasskeyPrompt = {}): Promise<TokenPair> {
    if (challenge.challengeId === undefined || challenge.passkeyOptions === undefined) {
      throw new TypeError("this mfa_required answer offers no passkey (no passkey_options)");
    }
    const credential = await passkeys.get(challenge.passkeyOptions, prompt);
    return client.loginWithSecondFactor({ challenge_id: challenge.challengeId, credential });
  },

  /** `navigator.credentials.create` with the service's creation options; its answer as JSON. */
  async create(options: PasskeyCreationOptions, prompt: PasskeyPrompt = {}): Promise<RegistrationResponse> {
    unsupportedThrows();
    const made = await navigator.credentials.create({
      publicKey: creationOptions(options),
      ...(prompt.signal ? { signal: prompt.signal } : {}),
    });
    return registrationJson(asPublicKeyCredential(made));
  },

  /** `navigator.credentials.get` with the service's request options; its answer as JSON. */
  async get(options: PasskeyRequestOptions, prompt: PasskeyPrompt = {}): Promise<AuthenticationResponse> {
    unsupportedThrows();
    const asserted = await navigator.credentials.get({
      publicKey: requestOptions(options),
      ...(prompt.signal ? { signal: prompt.signal } : {}),
    });
    return authenticationJson(asPublicKeyCredential(asserted));
  },
};

// The service's options are WebAuthn's JSON forms by contract; the DOM library types them a
// little narrower (enums for strings), hence the casts at this boundary.
type CreationJson = PublicKeyCredentialCreationOptionsJSON;
type RequestJson = PublicKeyCredentialRequestOptionsJSON;

function creationOptions(json: PasskeyCreationOptions): PublicKeyCredentialCreationOptions {
  if (typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function") {
    return PublicKeyCredential.parseCreationOptionsFromJSON(json as unknown as CreationJson);
  }
  const { excludeCredentials, ...rest } = json;
  return {
    ...(rest as unknown as PublicKeyCredentialCreationOptions),
    challenge: fromBase64Url(json.challenge),
    user: { ...json.user, id: fromBase64Url(json.user.id) },
    ...(excludeCredentials ? { excludeCredentials: excludeCredentials.map(descriptor) } : {}),
  };
}

function requestOptions(json: PasskeyRequestOptions): PublicKeyCredentialRequestOptions {
  if (typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function") {
    return PublicKeyCredential.parseRequestOptionsFromJSON(json as unknown as RequestJson);
  }
  return {
    ...(json as unknown as PublicKeyCredentialRequestOptions),
    challenge: fromBase64Url(json.challenge),
    allowCredentials: json.allowCredentials.map(descriptor),
  };
}

function descriptor(json: Schemas["CredentialDescriptor"]): PublicKeyCredentialDescriptor {
  return {
    type: "public-key",
    id: fromBase64Url(json.id),
    ...(json.transports ? { transports: json.transports as AuthenticatorTransport[] } : {}),
  };
}

function unsupportedThrows(): void {
  if (!passkeys.supported()) throw new DOMException("this browser has no WebAuthn", "NotSupportedError");
}

function asPublicKeyCredential(credential: Credential | null): PublicKeyCredential {
  if (credential === null || credential.type !== "public-key") {
    throw new DOMException("the browser gave no passkey", "NotAllowedError");
  }
  return credential as PublicKeyCredential;
}

/** `credential.toJSON()` where the browser has it; otherwise the same members, by hand. */
function registrationJson(credential: PublicKeyCredential): RegistrationResponse {
  if (typeof credential.toJSON === "function") return credential.toJSON() as RegistrationResponse;
  const response = credential.response as AuthenticatorAttestationResponse;
  return credentialJson(credential, {
    clientDataJSON: toBase64Url(response.clientDataJSON),
    attestationObject: toBase64Url(response.attestationObject),
    ...(typeof response.getTransports === "function" ? { transports: response.getTransports() } : {}),
  });
}

function authenticationJson(credential: PublicKeyCredential): AuthenticationResponse {
  if (typeof credential.toJSON === "function") return credential.toJSON() as AuthenticationResponse;
  const response = credential.response as AuthenticatorAssertionResponse;
  return credentialJson(credential, {
    clientDataJSON: toBase64Url(response.clientDataJSON),
    authenticatorData: toBase64Url(response.authenticatorData),
    signature: toBase64Url(response.signature),
    ...(response.userHandle ? { userHandle: toBase64Url(response.userHandle) } : {}),
  });
}

/** The members around `response` that both JSON forms have. */
function credentialJson<R>(credential: PublicKeyCredential, response: R) {
  return {
    id: credential.id,
    rawId: toBase64Url(credential.rawId),
    type: "public-key" as const,
    response,
    ...(credential.authenticatorAttachment ? { authenticatorAttachment: credential.authenticatorAttachment } : {}),
    clientExtensionResults: { ...credential.getClientExtensionResults() },
  };
}

/** Bytes as base64url without padding, WebAuthn's JSON encoding. */
function toBase64Url(bytes: ArrayBuffer): string {
  let binary = "";
  for (const byte of new Uint8Array(bytes)) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64Url(text: string): ArrayBuffer {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(base64.padEnd(base64.length + ((4 - (base64.length % 4)) % 4), "="));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes.buffer;
}
