-- GET /posts/?limit=10&skip=<random page of the 1 000 seeded posts>, as a random seeded user.
dofile(os.getenv("BENCH_DIR") .. "/wrk/common.lua")
math.randomseed(os.time())
request = function()
  local skip = math.random(0, 990)
  return wrk.format("GET", "/posts/?limit=10&skip=" .. skip, auth_headers(math.random(0, 99)))
end
