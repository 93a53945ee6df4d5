-- POST /login (the course's form) for the seeded users in turn.
dofile(os.getenv("BENCH_DIR") .. "/wrk/common.lua")
local users = tonumber(os.getenv("BENCH_USERS"))
local n = 0
request = function()
  n = n + 1
  local user = (n + id * 7) % users
  local body = "username=bench" .. user .. "%40example.com&password=bench-password"
  return wrk.format("POST", "/login", { ["Content-Type"] = "application/x-www-form-urlencoded" }, body)
end
