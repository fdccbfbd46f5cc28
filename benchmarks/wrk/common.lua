-- Shared helpers for every workload script (loaded with dofile by each script).
--
-- Configuration comes from environment variables set by benchmarks/run.py:
--   BENCH_AUTH    value of the Authorization header (e.g. "Basic YmVuY2g6YmVuY2g=")
--   BENCH_PREFIX  API prefix (default "/v1")
--   BENCH_BUCKET  bucket id used by the workloads
--
-- A workload script defines request() and check(status, headers, body) -> ok, reason.
-- A response counts as correct ONLY if check() returns true; everything else (wrong status,
-- wrong body, 409, 412...) is an error. done() prints one machine-readable line:
--   BENCH_RESULT {"ok":..,"bad":..,"status_409":..,...,"p50_us":..,"p99_us":..}

auth = os.getenv("BENCH_AUTH") or ""
prefix = os.getenv("BENCH_PREFIX") or "/v1"
bucket = os.getenv("BENCH_BUCKET") or "bench"
tid = tid or 0  -- set per thread by setup()

base_headers = { ["Authorization"] = auth }
json_headers = { ["Authorization"] = auth, ["Content-Type"] = "application/json" }

-- per-thread counters (read from the main Lua state in done() via thread:get)
ok = 0
bad = 0
non2xx = 0
status_409 = 0
status_412 = 0
status_5xx = 0
sub_409 = 0       -- 409s inside batch sub-responses
first_bad = ""

function env_number(name, default)
  local v = os.getenv(name)
  if v == nil or v == "" then return default end
  return tonumber(v)
end

function split_csv(s)
  local out = {}
  for item in string.gmatch(s or "", "[^,]+") do table.insert(out, item) end
  return out
end

-- plain (non-pattern) substring test
function has(body, needle)
  return body ~= nil and string.find(body, needle, 1, true) ~= nil
end

-- number of matches of a Lua pattern
function count(body, pattern)
  if body == nil then return 0 end
  local n = 0
  for _ in string.gmatch(body, pattern) do n = n + 1 end
  return n
end

-- JSON key pattern tolerant to whitespace: key_pat("last_modified") -> '"last_modified"%s*:'
function key_pat(key)
  return '"' .. key .. '"%s*:'
end

-- Optional list-content checks, configured by env:
--   BENCH_FILTER_FIELD/BENCH_FILTER_VALUE: every one of the n records has field == value
--   BENCH_SORT_FIELD (+ BENCH_SORT_DESC=1|0): the field's numeric values are in that order
local filter_field = os.getenv("BENCH_FILTER_FIELD") or ""
local filter_value = os.getenv("BENCH_FILTER_VALUE") or ""
local sort_field = os.getenv("BENCH_SORT_FIELD") or ""
local sort_desc = (os.getenv("BENCH_SORT_DESC") or "1") == "1"

function check_list_content(body, n)
  if filter_field ~= "" then
    local m = count(body, key_pat(filter_field) .. "%s*" .. filter_value .. "%s*[,}]")
    if m ~= n then return false, "filter mismatch " .. m .. "/" .. n end
  end
  if sort_field ~= "" then
    local prev = nil
    for v in string.gmatch(body, key_pat(sort_field) .. "%s*(%-?[%d%.eE+-]+)") do
      local x = tonumber(v)
      if prev ~= nil and ((sort_desc and x > prev) or (not sort_desc and x < prev)) then
        return false, "not sorted"
      end
      prev = x
    end
  end
  return true
end

function header(headers, name)
  name = string.lower(name)
  for k, v in pairs(headers or {}) do
    if string.lower(k) == name then return v end
  end
  return nil
end

local function record_bad(status, reason, body)
  bad = bad + 1
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
  if status == 409 then status_409 = status_409 + 1 end
  if status == 412 then status_412 = status_412 + 1 end
  if status >= 500 then status_5xx = status_5xx + 1 end
  if first_bad == "" then
    first_bad = tostring(status) .. " " .. tostring(reason or "unexpected body") .. " | " ..
      string.sub(body or "", 1, 300)
  end
end

function response(status, headers, body)
  local good, reason = check(status, headers, body)
  if good then
    ok = ok + 1
  else
    record_bad(status, reason, body)
  end
  if after_response then after_response(status, headers, body, good) end
end

-- ---- main-state side: collect the threads, report in done() ----
local threads = {}
local next_tid = 0

function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
  table.insert(threads, thread)
end

local function json_str(s)
  s = string.gsub(s, '[%c"\\]', function(c) return string.format("\\u%04x", string.byte(c)) end)
  return '"' .. s .. '"'
end

function done(summary, latency, requests)
  local keys = { "ok", "bad", "non2xx", "status_409", "status_412", "status_5xx", "sub_409" }
  local totals = {}
  for _, k in ipairs(keys) do totals[k] = 0 end
  local fb = ""
  for _, t in ipairs(threads) do
    for _, k in ipairs(keys) do totals[k] = totals[k] + (t:get(k) or 0) end
    local tb = t:get("first_bad")
    if fb == "" and tb ~= nil and tb ~= "" then fb = tb end
  end
  local e = summary.errors
  local parts = {}
  for _, k in ipairs(keys) do table.insert(parts, string.format('"%s":%d', k, totals[k])) end
  table.insert(parts, string.format('"responses":%d', summary.requests))
  table.insert(parts, string.format('"duration_us":%d', summary.duration))
  table.insert(parts, string.format('"socket_connect":%d,"socket_read":%d,"socket_write":%d,"timeouts":%d',
    e.connect, e.read, e.write, e.timeout))
  table.insert(parts, string.format('"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f',
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
  table.insert(parts, '"first_bad":' .. json_str(fb))
  io.write("BENCH_RESULT {" .. table.concat(parts, ",") .. "}\n")
end
