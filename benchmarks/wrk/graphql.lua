-- POST a GraphQL document to BENCH_PATH (default /graphql).
-- BENCH_GQL_BODY: the JSON request body ({"query": ..., "variables": ...}).
-- Correct = 200, a "data" key, no "errors" key, and BENCH_MARKER present exactly
-- BENCH_EXPECT_COUNT times (or at least once if BENCH_EXPECT_COUNT is unset), plus the optional
-- BENCH_FILTER_* / BENCH_SORT_* list-content checks of common.lua.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local path = prefix .. (os.getenv("BENCH_PATH") or "/graphql")
local body = os.getenv("BENCH_GQL_BODY")
local marker = os.getenv("BENCH_MARKER") or "lastModified"
local expect = env_number("BENCH_EXPECT_COUNT", -1)

function request()
  return wrk.format("POST", path, json_headers, body)
end

function check(status, headers, rbody)
  if status ~= 200 then return false, "status" end
  if not string.find(rbody, key_pat("data")) then return false, "no data" end
  if string.find(rbody, key_pat("errors")) then return false, "errors" end
  local n = count(rbody, key_pat(marker))
  if expect >= 0 and n ~= expect then return false, "count " .. n .. " ~= " .. expect end
  if expect < 0 and n == 0 then return false, "missing " .. marker end
  return check_list_content(rbody, n)
end
