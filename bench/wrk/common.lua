-- Shared by the scenarios: bearer tokens of the seeded users (one per line in $BENCH_TOKENS),
-- and a per-thread id (wrk runs one Lua state per thread).
local tokens = {}
for line in io.lines(os.getenv("BENCH_TOKENS")) do
  tokens[#tokens + 1] = line
end

local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function token(i)
  return tokens[(i % #tokens) + 1]
end

function auth_headers(i)
  return { ["Authorization"] = "Bearer " .. token(i), ["Content-Type"] = "application/json" }
end

-- One machine-readable line at the end of the run.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d connect=%d read=%d write=%d timeout=%d status=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.timeout, e.status))
end
