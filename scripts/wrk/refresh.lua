-- POST /token, each request with the refresh token the previous response returned.
-- One connection per thread, so every thread follows one chain strictly in order.
local counter = 0
local threads = {}

function setup(thread)
  counter = counter + 1
  local f = assert(io.open(os.getenv("BENCH_DIR") .. "/token-" .. counter))
  thread:set("token", f:read("*l"))
  f:close()
  table.insert(threads, thread)
end

function init(args)
  chain_errors = 0
end

function request()
  return wrk.format("POST", "/token", { ["Content-Type"] = "application/json" },
    '{"refresh_token":"' .. token .. '"}')
end

function response(status, headers, body)
  local next_token = body:match('"refresh_token":"([^"]+)"')
  if status == 200 and next_token then
    token = next_token
  else
    chain_errors = chain_errors + 1
  end
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("chain_errors")
  end
  io.write(string.format("chain errors: %d\n", total))
end
