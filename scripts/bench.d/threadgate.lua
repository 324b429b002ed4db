-- wrk script for scripts/bench.
--
--   TG_BENCH_AUTH=<base64 of "KEY:"> wrk ... -s threadgate.lua URL -- MODE ARG...
--
-- Reads (TG_BENCH_AUTH: a GET key):
-- MODE get MAX|RANGES:  GET /api/customer_threads/{random id} (XML, full display); ids drawn
--            uniformly from 1..MAX or from RANGES "A-B,C-D,..." (the existing ids: the bulk seed
--            leaves gaps)
-- MODE list MAX: GET /api/customer_threads?filter[id_customer]=[x]&sort=[date_upd_DESC]&limit=50
--            &display=full, x random in 1..MAX (brackets percent-encoded)
-- Bridges (TG_BENCH_AUTH as for reads, TG_BENCH_KEY: the same key in clear for M10):
-- MODE m10 ID: GET /api/inbox/threads/ID, `Authorization: <key>`
-- MODE bridge-list DEPT CUSTOMER: POST /communications/departments/DEPT/customers/CUSTOMER/threads,
--            JSON {"maxResults":100, sorted by last message, newest first}, Basic
-- Writes (TG_BENCH_AUTH: a key with POST and PUT on both resources), XML bodies:
-- MODE post-thread MAX:    POST /api/customer_threads, a new thread of customer x in 1..MAX
-- MODE put-thread RANGES:  PUT /api/customer_threads (the collection URL) with a whole thread
--            whose <id> is a random existing one (and a random customer, as post-thread)
-- MODE post-message RANGES: POST /api/customer_messages, a message on a random existing thread
-- The write bodies carry the values benches/pointselect's write modes bind (the raw ceiling).
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
local fixed_path

local modes = {
  get = true, list = true, m10 = true, ["bridge-list"] = true,
  ["post-thread"] = true, ["put-thread"] = true, ["post-message"] = true,
}

local function parse_ranges(spec)
  if tonumber(spec) then
    spec = "1-" .. spec
  end
  for lo, hi in string.gmatch(spec, "(%d+)-(%d+)") do
    lo, hi = tonumber(lo), tonumber(hi)
    table.insert(ranges, { lo, hi })
    total = total + (hi - lo + 1)
  end
end

local function env(name)
  local v = os.getenv(name)
  if not v or v == "" then
    error(name .. " is not set")
  end
  return v
end

function init(args)
  mode = args[1]
  if not modes[mode] then
    error("usage: -- get|list|post-thread MAX|A-B,... | put-thread|post-message A-B,... | m10 ID"
      .. " | bridge-list DEPT CUSTOMER")
  end
  -- Different streams per thread (tid is set by setup()).
  math.randomseed(os.time() * 1000 + (tid or 0) * 7919)
  if mode == "m10" then
    fixed_path = "/api/inbox/threads/" .. (args[2] or error("m10: the thread id"))
    wrk.headers["Authorization"] = env("TG_BENCH_KEY")
    return
  end
  wrk.headers["Authorization"] = "Basic " .. env("TG_BENCH_AUTH")
  if mode == "bridge-list" then
    fixed_path = "/communications/departments/" .. (args[2] or error("bridge-list: DEPT CUSTOMER"))
      .. "/customers/" .. (args[3] or error("bridge-list: DEPT CUSTOMER")) .. "/threads"
    wrk.headers["Content-Type"] = "application/json"
    return
  end
  parse_ranges(args[2] or "")
  if total < 1 then
    error(mode .. ": MAX or A-B,C-D,...")
  end
  if mode == "post-thread" or mode == "put-thread" or mode == "post-message" then
    wrk.headers["Content-Type"] = "application/xml"
  end
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

-- A whole thread as a client sends it; id is nil for a POST. The same values as
-- benches/pointselect's write_value().
local function thread_xml(id, customer)
  local parts = { '<?xml version="1.0" encoding="UTF-8"?>\n'
    .. '<prestashop xmlns:xlink="http://www.w3.org/1999/xlink"><customer_thread>' }
  if id then
    table.insert(parts, "<id><![CDATA[" .. id .. "]]></id>")
  end
  table.insert(parts, "<id_lang><![CDATA[1]]></id_lang><id_shop><![CDATA[1]]></id_shop>"
    .. "<id_customer><![CDATA[" .. customer .. "]]></id_customer>"
    .. "<id_order><![CDATA[0]]></id_order><id_product><![CDATA[0]]></id_product>"
    .. "<id_contact><![CDATA[1]]></id_contact>"
    .. "<email><![CDATA[customer" .. customer .. "@example.com]]></email>"
    .. string.format("<token><![CDATA[bench%07d]]></token>", customer)
    .. "<status><![CDATA[open]]></status>")
  if id then
    -- A whole thread, as read back: its date_add goes with it (date_upd is the server's now).
    table.insert(parts, "<date_add><![CDATA[2024-01-01 00:00:00]]></date_add>")
  end
  table.insert(parts, "</customer_thread></prestashop>")
  return table.concat(parts)
end

local function message_xml(thread)
  return '<?xml version="1.0" encoding="UTF-8"?>\n'
    .. '<prestashop xmlns:xlink="http://www.w3.org/1999/xlink"><customer_message>'
    .. "<id_employee><![CDATA[0]]></id_employee>"
    .. "<id_customer_thread><![CDATA[" .. thread .. "]]></id_customer_thread>"
    .. "<message><![CDATA[Bench message to thread " .. thread .. ": is my order on its way?]]></message>"
    .. "<private><![CDATA[0]]></private><read><![CDATA[0]]></read>"
    .. "</customer_message></prestashop>"
end

function request()
  if mode == "get" then
    return wrk.format("GET", "/api/customer_threads/" .. pick())
  elseif mode == "list" then
    return wrk.format("GET", "/api/customer_threads?filter%5Bid_customer%5D=%5B" .. pick()
      .. "%5D&sort=%5Bdate_upd_DESC%5D&limit=50&display=full")
  elseif mode == "m10" then
    return wrk.format("GET", fixed_path)
  elseif mode == "bridge-list" then
    return wrk.format("POST", fixed_path, nil,
      '{"maxResults":100,"sortOrderKey":"LAST_MESSAGE_ON","sortOrder":"DESC"}')
  elseif mode == "post-thread" then
    return wrk.format("POST", "/api/customer_threads", nil, thread_xml(nil, pick()))
  elseif mode == "put-thread" then
    return wrk.format("PUT", "/api/customer_threads", nil, thread_xml(pick(), math.random(1, 1000)))
  else
    return wrk.format("POST", "/api/customer_messages", nil, message_xml(pick()))
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRKDONE requests=%d duration_us=%d p50_us=%d p99_us=%d max_us=%d bytes=%d "
      .. "err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout))
end
