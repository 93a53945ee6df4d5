-- GET a random path of $BENCH_URLS (one per line) as a random seeded user.
dofile(os.getenv("BENCH_DIR") .. "/wrk/common.lua")
local paths = {}
for line in io.lines(os.getenv("BENCH_URLS")) do
  paths[#paths + 1] = line
end
math.randomseed(os.time())
request = function()
  return wrk.format("GET", paths[math.random(1, #paths)], auth_headers(math.random(0, 99)))
end
