-- GET a records list (BENCH_PATH includes the querystring, e.g.
-- /buckets/bench/collections/big/records?category=3&_sort=-rank&_limit=50).
-- Correct = 200 and
--   * exactly BENCH_EXPECT_COUNT records ("last_modified" keys) in the body,
--   * if BENCH_FILTER_FIELD/BENCH_FILTER_VALUE are set: every record has that value,
--   * if BENCH_SORT_FIELD is set: its values are in descending order (BENCH_SORT_DESC=1)
--     or ascending order (BENCH_SORT_DESC=0).
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local path = prefix .. os.getenv("BENCH_PATH")
local expect = env_number("BENCH_EXPECT_COUNT", -1)

function request()
  return wrk.format("GET", path, base_headers)
end

function check(status, headers, body)
  if status ~= 200 then return false, "status" end
  local n = count(body, key_pat("last_modified"))
  if expect >= 0 and n ~= expect then return false, "count " .. n .. " ~= " .. expect end
  return check_list_content(body, n)
end
