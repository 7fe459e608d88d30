#!/usr/bin/env bash
# The API document against the running local API (sourced environment: API_URL, MOTO_URL,
# APITEST_DIR): openapi-spec-validator validates openapi/openapi.yaml, then schemathesis sends
# generated and hostile requests to every operation and fails on any 5xx, any status, header,
# content type or body the document does not allow, any invalid input accepted, and any
# bearer route that answers without its token. The bearer routes run with the access token of
# an account made here; the two that end it (sign out everywhere, delete the account) run
# last, in a pass of their own.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${API_URL:?}" "${MOTO_URL:?}" "${APITEST_DIR:?}"
report_dir="${1:-$(mktemp -d -t auth-schemathesis.XXXXXX)}"

"$APITEST_DIR/bin/openapi-spec-validator" openapi/openapi.yaml

# Accounts to call the bearer routes with: registered and confirmed here (one mail fetch for
# all). The first one's access token goes with every request; the pass that ends sessions
# (sign out everywhere, delete the account) gives each of its cases a live session of an
# account of its own from the rest (scripts/schemathesis_hooks.py), so those operations are
# tested with valid tokens, not only refused.
accounts="$report_dir/accounts.json"
mkdir -p "$report_dir"
"$APITEST_DIR/bin/python" - "$API_URL" "$MOTO_URL" "$accounts" <<'PY'
import json, re, sys, urllib.request, uuid
api, moto, out = sys.argv[1], sys.argv[2], sys.argv[3]
password = "correct horse battery staple"
def call(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(api + path, data=data, method=method,
                                 headers={"content-type": "application/json"} if data else {})
    with urllib.request.urlopen(req) as response:
        return json.load(response)
emails = [f"fuzz-{uuid.uuid4().hex}@example.com" for _ in range(120)]
for email in emails:
    call("POST", "/registration", {"email": email, "password": password, "repeat_password": password})
mails = json.load(urllib.request.urlopen(moto + "/moto-api/data.json"))["ses"]["Message"]
accounts = []
for email in emails:
    html = [m for m in mails if email in m["destinations"]["ToAddresses"]][-1]["body"]
    code = re.search(r"/confirm#code=([A-Za-z0-9_-]+)", html).group(1)
    token = call("PATCH", f"/registration/{code}")["access_token"]
    accounts.append({"email": email, "password": password, "access_token": token})
json.dump(accounts, open(out, "w"))
PY
token="$("$APITEST_DIR/bin/python" -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["access_token"])' "$accounts")"
export API_CHECK_TOKEN="$token" API_CHECK_ACCOUNTS="$accounts"

checks=not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,negative_data_rejection,ignored_auth
# One worker: with several, schemathesis' case generation (hypothesis describing its filters
# from their source) is not thread-safe and now and then stops an operation with a
# "Runtime Error" of its own (seen on POST /login/mfa); one worker costs seconds here.
run() { # name extra-args...
  local name="$1"
  shift
  SCHEMATHESIS_HOOKS=schemathesis_hooks PYTHONPATH=scripts \
    "$APITEST_DIR/bin/st" run openapi/openapi.yaml --url "$API_URL" \
    --checks "$checks" --max-examples "${SCHEMATHESIS_EXAMPLES:-25}" --seed 20261201 \
    --phases examples,coverage,fuzzing --workers 1 --no-color --request-timeout 30 \
    --report junit --report-junit-path "$report_dir/$name.xml" "$@"
}
run all --exclude-operation-id revokeAllSessions --exclude-operation-id deleteMe \
  -H "Authorization: Bearer $token"
# Each case gets a session of its own account here (the hooks' FreshSession).
run ending --include-operation-id revokeAllSessions --include-operation-id deleteMe
echo "api-check: reports in $report_dir" >&2
