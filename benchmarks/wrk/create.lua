-- POST one small record per request.
-- BENCH_COLLECTIONS: comma-separated collection ids. One id = every connection creates into
-- the same collection (contention); several = requests are spread round-robin over them,
-- each thread starting at a different offset.
-- Correct = 201 and the body has "last_modified" and our title. 409s are counted separately.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local collections = split_csv(os.getenv("BENCH_COLLECTIONS") or "create")
local paths = {}
for i, c in ipairs(collections) do
  paths[i] = prefix .. "/buckets/" .. bucket .. "/collections/" .. c .. "/records"
end
local n = 0

function request()
  n = n + 1
  local path = paths[((n + tid * 7) % #paths) + 1]
  local body = string.format('{"data":{"title":"wrk-%d-%d","category":%d,"rank":%d}}',
    tid, n, n % 10, n)
  return wrk.format("POST", path, json_headers, body)
end

function check(status, headers, body)
  if status ~= 201 then return false, "status" end
  if not string.find(body, key_pat("last_modified")) then return false, "no last_modified" end
  if not has(body, '"wrk-') then return false, "title not echoed" end
  return true
end
