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


@schemathesis.auth(refresh_interval=None).apply_to(operation_id=["revokeAllSessions", "deleteMe"])
class FreshSession:
    """A live session of an account of its own for each case of the ending operations."""

    def get(self, case, ctx):
        account = _next_account()
        if account is None:
            # The pool is spent: the run's token (its session may have ended by now).
            return {"access_token": os.environ.get("API_CHECK_TOKEN", ""), "password": None}
        return account

    def set(self, case, account, ctx):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {account['access_token']}"}
        body = case.body
        if account["password"] and case.path == "/me" and isinstance(body, dict) and isinstance(body.get("password"), str):
            case.body = {**body, "password": account["password"]}
