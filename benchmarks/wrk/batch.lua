-- POST /batch with BENCH_BATCH_SIZE (default 25) record creations.
-- BENCH_COLLECTIONS: one collection (all sub-requests into it) or several (sub-requests
-- spread round-robin over them).
-- Correct = 200 and exactly BENCH_BATCH_SIZE sub-responses with "status": 201.
-- 409s inside sub-responses are counted in sub_409.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local size = env_number("BENCH_BATCH_SIZE", 25)
local collections = split_csv(os.getenv("BENCH_COLLECTIONS") or "batch")
local path = prefix .. "/batch"
local n = 0

function request()
  local reqs = {}
  for i = 1, size do
    n = n + 1
    local c = collections[((n + tid * 7) % #collections) + 1]
    reqs[i] = string.format(
      '{"method":"POST","path":"/buckets/%s/collections/%s/records","body":{"data":{"title":"wrkb-%d-%d","category":%d,"rank":%d}}}',
      bucket, c, tid, n, n % 10, n)
  end
  local body = '{"requests":[' .. table.concat(reqs, ",") .. ']}'
  return wrk.format("POST", path, json_headers, body)
end

function check(status, headers, body)
  if status ~= 200 then return false, "status" end
  local created = count(body, key_pat("status") .. "%s*201")
  local conflicts = count(body, key_pat("status") .. "%s*409")
  sub_409 = sub_409 + conflicts
  if created ~= size then return false, "created " .. created .. "/" .. size end
  return true
end
