-- wrk script for scripts/bench.
--
--   TG_BENCH_AUTH=<base64 of "KEY:"> wrk ... -s threadgate.lua URL -- MODE MAX
--
-- MODE get:  GET /api/customer_threads/{random id in 1..MAX}  (XML, full display)
-- MODE list: GET /api/customer_threads?filter[id_customer]=[x]&sort=[date_upd_DESC]&limit=50
--            &display=full, x random in 1..MAX (brackets percent-encoded)
-- done() prints one machine-readable line: exact request count, duration, p50/p99 and errors.

local threads = {}
local next_id = 1

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local mode, max

function init(args)
  mode = args[1]
  max = tonumber(args[2])
  if (mode ~= "get" and mode ~= "list") or not max or max < 1 then
    error("usage: -- get|list MAX")
  end
  local auth = os.getenv("TG_BENCH_AUTH")
  if not auth or auth == "" then
    error("TG_BENCH_AUTH is not set")
  end
  -- Different streams per thread (tid is set by setup()).
  math.randomseed(os.time() * 1000 + (tid or 0) * 7919)
  wrk.headers["Authorization"] = "Basic " .. auth
end

function request()
  local path
  if mode == "get" then
    path = "/api/customer_threads/" .. math.random(1, max)
  else
    path = "/api/customer_threads?filter%5Bid_customer%5D=%5B" .. math.random(1, max)
      .. "%5D&sort=%5Bdate_upd_DESC%5D&limit=50&display=full"
  end
  return wrk.format("GET", path)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRKDONE requests=%d duration_us=%d p50_us=%d p99_us=%d max_us=%d bytes=%d "
      .. "err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout))
end
