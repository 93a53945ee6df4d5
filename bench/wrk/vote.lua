-- Vote toggle: each wrk thread drives one connection (run with -t = -c) as one voter on its
-- own slice of the posts, adding then removing its vote, so every answer is a 201.
-- Voters are the tokens from $BENCH_VOTER_OFFSET on (users that cast no seeded votes).
dofile(os.getenv("BENCH_DIR") .. "/wrk/common.lua")
local first = tonumber(os.getenv("BENCH_FIRST_POST"))
local voters = tonumber(os.getenv("BENCH_VOTERS"))
local offset = tonumber(os.getenv("BENCH_VOTER_OFFSET"))
-- Slices: the smallest divisor of 1 000 that gives every connection a slice of its own, so
-- no two connections ever vote as the same user on the same post.
local slices = math.ceil(tonumber(os.getenv("BENCH_CONNECTIONS")) / voters)
while 1000 % slices ~= 0 do
  slices = slices + 1
end
-- Advanced by answers, not by requests: wrk may build a request it never sends.
local n = 0
response = function(status, headers, body)
  n = n + 1
end
request = function()
  local voter = id % voters
  local slice = math.floor(id / voters)
  local post = first + ((slice + slices * math.floor(n / 2)) % 1000)
  local dir = (n % 2 == 0) and 1 or 0
  local body = '{"post_id": ' .. post .. ', "dir": ' .. dir .. '}'
  return wrk.format("POST", "/vote/", auth_headers(offset + voter), body)
end
