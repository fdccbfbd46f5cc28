-- GET a fixed URL (BENCH_PATH, relative to the prefix).
-- Correct = 200 and the body contains the plain marker BENCH_MARKER (and, if set, a second
-- marker BENCH_MARKER2), e.g. the record id and "last_modified".
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local path = prefix .. (os.getenv("BENCH_PATH") or "/")
local marker = os.getenv("BENCH_MARKER") or '"last_modified"'
local marker2 = os.getenv("BENCH_MARKER2") or ""

function request()
  return wrk.format("GET", path, base_headers)
end

function check(status, headers, body)
  if status ~= 200 then return false, "status" end
  if not has(body, marker) then return false, "missing " .. marker end
  if marker2 ~= "" and not has(body, marker2) then return false, "missing " .. marker2 end
  return true
end
