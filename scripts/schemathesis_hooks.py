"""Schemathesis hooks for `scripts/api-check.sh`.

Operations that end the session they are called with (sign out everywhere, delete the
account) would leave every later case of theirs with a dead token, so they would only ever be
refused (401). Each of their cases that carries the run's token instead gets a live session of
an account of its own (`API_CHECK_ACCOUNTS`, made by api-check.sh), and a well-formed deletion
its account's password, so the pass tests what they do with valid credentials. Cases that
probe authentication (no token, a wrong one) are left as they are.

The local stack's HTTP front end, `cargo lambda watch`, cannot put a body that is not UTF-8
into the API Gateway event it builds, so it answers such a request itself with its own 500
(`https://httpstatuses.com/500`) before any function runs. API Gateway passes those bytes
base64-encoded instead, and the functions answer 400 `invalid_request` (a unit test in
shared/src/http covers it). Only that emulator answer, to that request, is set aside here;
every other 500, including any the service itself returns, still fails the run.
"""

import json
import os
import threading

import schemathesis

EMULATOR_500 = b"https://httpstatuses.com/500"


def _not_utf8(body):
    if isinstance(body, (bytes, bytearray)):
        try:
            bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            return True
    return False


@schemathesis.hook
def filter_failure(ctx, failure, case, response):
    emulator = response is not None and EMULATOR_500 in (response.content or b"")
    return not (emulator and _not_utf8(case.body))


ENDING = {("DELETE", "/me"), ("DELETE", "/sessions")}
_accounts = None
_lock = threading.Lock()


def _next_account():
    global _accounts
    with _lock:
        if _accounts is None:
            path = os.environ.get("API_CHECK_ACCOUNTS")
            # Each account once: the case may end its session or delete it.
            _accounts = iter(json.load(open(path))[1:] if path else [])
        return next(_accounts, None)


def _authorization(headers):
    for name, value in (headers or {}).items():
        if name.lower() == "authorization":
            return name, value
    return None, None


@schemathesis.hook
def before_call(ctx, case, kwargs):
    if (case.method.upper(), case.path) not in ENDING:
        return
    run_token = os.environ.get("API_CHECK_TOKEN")
    transport_headers = kwargs.get("headers") or {}
    name, value = _authorization(transport_headers)
    case_name, case_value = _authorization(case.headers)
    if value is None and case_value is None:
        return  # an authentication probe without a token
    if f"Bearer {run_token}" not in (value, case_value):
        return  # an authentication probe with another token
    account = _next_account()
    if account is None:
        return
    bearer = f"Bearer {account['access_token']}"
    kwargs["headers"] = {k: v for k, v in transport_headers.items() if k.lower() != "authorization"}
    kwargs["headers"]["Authorization"] = bearer
    if case.headers is not None:
        case.headers = {k: v for k, v in case.headers.items() if k.lower() != "authorization"}
        case.headers["Authorization"] = bearer
    if case.path == "/me" and isinstance(case.body, dict) and isinstance(case.body.get("password"), str):
        case.body = {**case.body, "password": account["password"]}
