-- POST /token/refresh: each wrk thread drives one connection (run with -t = -c) along its own
-- session's chain of refresh tokens ($BENCH_REFRESH_TOKENS, one per line): every answer
-- carries the next token, which the next request presents (a token is good once).
dofile(os.getenv("BENCH_DIR") .. "/wrk/common.lua")
local chains = {}
for line in io.lines(os.getenv("BENCH_REFRESH_TOKENS")) do
  chains[#chains + 1] = line
end
local current = nil
response = function(status, headers, body)
  if status == 200 then
    current = body:match('"refresh_token":"([^"]+)"')
  end
end
request = function()
  current = current or chains[(id % #chains) + 1]
  return wrk.format("POST", "/token/refresh", { ["Content-Type"] = "application/x-www-form-urlencoded" },
    "grant_type=refresh_token&refresh_token=" .. current)
end
