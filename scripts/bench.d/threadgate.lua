-- wrk script for scripts/bench.
--
--   TG_BENCH_AUTH=<base64 of "KEY:"> wrk ... -s threadgate.lua URL -- MODE MAX|RANGES
--
-- MODE get:  GET /api/customer_threads/{random id}  (XML, full display); ids drawn uniformly from
--            1..MAX or from RANGES "A-B,C-D,..." (the existing ids: the bulk seed leaves gaps)
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

local mode
local ranges = {}
local total = 0

function init(args)
  mode = args[1]
  local spec = args[2] or ""
  if tonumber(spec) then
    spec = "1-" .. spec
  end
  for lo, hi in string.gmatch(spec, "(%d+)-(%d+)") do
    lo, hi = tonumber(lo), tonumber(hi)
    table.insert(ranges, { lo, hi })
    total = total + (hi - lo + 1)
  end
  if (mode ~= "get" and mode ~= "list") or total < 1 then
    error("usage: -- get|list MAX|A-B,C-D,...")
  end
  local auth = os.getenv("TG_BENCH_AUTH")
  if not auth or auth == "" then
    error("TG_BENCH_AUTH is not set")
  end
  -- Different streams per thread (tid is set by setup()).
  math.randomseed(os.time() * 1000 + (tid or 0) * 7919)
  wrk.headers["Authorization"] = "Basic " .. auth
end

local function pick()
  local k = math.random(0, total - 1)
  for _, r in ipairs(ranges) do
    local n = r[2] - r[1] + 1
    if k < n then
      return r[1] + k
    end
    k = k - n
  end
  return ranges[#ranges][2]
end

function request()
  local path
  if mode == "get" then
    path = "/api/customer_threads/" .. pick()
  else
    path = "/api/customer_threads?filter%5Bid_customer%5D=%5B" .. pick()
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
