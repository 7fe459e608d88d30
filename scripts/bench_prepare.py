"""Makes a verified user through the local API and signs it in once per wrk thread, calling
every function the wrk step times once, so none is still starting when wrk begins.

Writes BENCH_DIR/user.json (the login body) and BENCH_DIR/token-N (a refresh token each).
"""
import json, os, sys, time, urllib.request, uuid, re

threads, bench_dir = int(sys.argv[1]), sys.argv[2]
api, moto = os.environ["API_URL"], os.environ["MOTO_URL"]
os.environ["BENCH_DIR"] = bench_dir


def call(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(api + path, data=data, method=method,
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.loads(r.read() or b"{}")


email = f"bench-{uuid.uuid4().hex}@example.com"
password = "correct horse battery staple"
call("POST", "/registration", {"email": email, "password": password, "repeat_password": password})
data = json.loads(urllib.request.urlopen(moto + "/moto-api/data.json").read())
mail = [m for m in data["ses"]["Message"] if email in m["destinations"]["ToAddresses"]][-1]
prefix = os.environ["CONFIRM_URL"].split("{code}")[0]
code = re.search(re.escape(prefix) + r"([A-Za-z0-9_-]{43})", mail["body"]).group(1)
call("PATCH", "/registration/" + code)
login = {"email": email, "password": password}
with open(os.path.join(bench_dir, "user.json"), "w") as f:
    json.dump(login, f)
for n in range(1, threads + 1):
    token = call("POST", "/login", login)["refresh_token"]
    # One refresh first: the token function answers (cargo lambda watch has it running)
    # before wrk starts timing, and the chain goes on from the token it hands out.
    token = call("POST", "/token", {"refresh_token": token})["refresh_token"]
    with open(os.path.join(bench_dir, f"token-{n}"), "w") as f:
        f.write(token + "\n")
print(f"bench: verified user {email}, {threads} refresh tokens", file=sys.stderr)
