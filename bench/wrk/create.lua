-- POST /posts/ with a small body, as a random seeded user.
dofile(os.getenv("BENCH_DIR") .. "/wrk/common.lua")
math.randomseed(os.time())
local n = 0
request = function()
  n = n + 1
  local body = '{"title": "bench post ' .. n .. '", "content": "created by wrk", "published": true}'
  return wrk.format("POST", "/posts/", auth_headers(math.random(0, 99)), body)
end
