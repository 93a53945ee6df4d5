-- GET /users/{id} on the auth service (a cheap endpoint, to watch during a login storm).
dofile(os.getenv("BENCH_DIR") .. "/wrk/common.lua")
local first = tonumber(os.getenv("BENCH_FIRST_USER"))
local users = tonumber(os.getenv("BENCH_USERS"))
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", "/users/" .. (first + n % users), auth_headers(n))
end
