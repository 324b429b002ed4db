-- wrk script for scripts/bench-bridges.
--
--   TG_BENCH_KEY=<key> wrk ... -s bridges.lua URL -- MODE
--
-- MODE m10:  GET /api/inbox/threads/900001 (200 messages), key as `Authorization: <key>`
-- MODE list: POST /communications/departments/2/customers/2/threads (1 000 threads), Basic
-- done() prints one machine-readable line: requests, duration, p50/p99, non-2xx count.

local mode

function init(args)
  mode = args[1]
  local key = os.getenv("TG_BENCH_KEY")
  if not key or key == "" then
    error("TG_BENCH_KEY is not set")
  end
  if mode == "m10" then
    wrk.method = "GET"
    wrk.path = "/api/inbox/threads/900001"
    wrk.headers["Authorization"] = key
  elseif mode == "list" then
    wrk.method = "POST"
    wrk.path = "/communications/departments/" .. os.getenv("TG_BENCH_DEPT")
      .. "/customers/" .. os.getenv("TG_BENCH_CUSTOMER") .. "/threads"
    wrk.headers["Authorization"] = "Basic " .. os.getenv("TG_BENCH_BASIC")
    wrk.headers["Content-Type"] = "application/json"
    wrk.body = '{"maxResults":100,"sortOrderKey":"LAST_MESSAGE_ON","sortOrder":"DESC"}'
  else
    error("usage: -- m10|list")
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRKDONE requests=%d duration_us=%d p50_us=%d p99_us=%d max_us=%d bytes=%d err_status=%d err_other=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, summary.bytes, e.status, e.connect + e.read + e.write + e.timeout))
end
