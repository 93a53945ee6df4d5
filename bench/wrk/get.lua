-- GET /posts/{id} of a random seeded post ($BENCH_FIRST_POST .. +999).
dofile(os.getenv("BENCH_DIR") .. "/wrk/common.lua")
local first = tonumber(os.getenv("BENCH_FIRST_POST"))
math.randomseed(os.time())
request = function()
  local id = first + math.random(0, 999)
  return wrk.format("GET", "/posts/" .. id, auth_headers(math.random(0, 99)))
end
