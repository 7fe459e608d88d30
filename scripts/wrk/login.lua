-- POST /login for the verified user bench_prepare.py made.
local f = assert(io.open(os.getenv("BENCH_DIR") .. "/user.json"))
local user = f:read("*a")
f:close()
wrk.method = "POST"
wrk.path = "/login"
wrk.headers["Content-Type"] = "application/json"
wrk.body = user
