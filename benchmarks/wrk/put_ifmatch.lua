-- Conditional writes. Each thread owns BENCH_POOL records (1,024 by default: a record comes
-- back only after ~2 s at 500 req/s, longer than any response takes) (ids "<nonce>-<tid>-<k>") in
-- BENCH_COLLECTION and walks them round-robin. The first write of a record is
--   PUT + If-None-Match: *       (expects 201)
-- every later write sends back the ETag returned by the previous write of that record:
--   PUT + If-Match: "<etag>"    (expects 200)
-- Responses are matched to records by the "id" in the response body. As long as
-- BENCH_POOL >= connections per thread, a record never has two writes in flight, so every
-- 412 is a real error (a stale/wrong ETag). Correct = expected status + "last_modified".
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local pool = env_number("BENCH_POOL", 64)
local nonce = os.getenv("BENCH_NONCE") or "put"
local coll_path = prefix .. "/buckets/" .. bucket .. "/collections/" ..
  (os.getenv("BENCH_COLLECTION") or "put") .. "/records/"
local etags = {}
local n = 0

function request()
  n = n + 1
  local id = string.format("%s-%d-%d", nonce, tid, n % pool)
  local h = { ["Authorization"] = auth, ["Content-Type"] = "application/json" }
  if etags[id] then h["If-Match"] = etags[id] else h["If-None-Match"] = "*" end
  local body = string.format('{"data":{"title":"put-%d","n":%d}}', n, n)
  return wrk.format("PUT", coll_path .. id, h, body)
end

function check(status, headers, body)
  if status ~= 200 and status ~= 201 then return false, "status" end
  local id = string.match(body, key_pat("id") .. '%s*"([^"]+)"')
  local lm = string.match(body, key_pat("last_modified") .. "%s*(%d+)")
  if id == nil or lm == nil then return false, "no id/last_modified" end
  local known = etags[id] ~= nil
  if (status == 201) == known then return false, "201 on update or 200 on create" end
  etags[id] = header(headers, "ETag") or ('"' .. lm .. '"')
  return true
end
