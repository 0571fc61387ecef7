-- The soak's mix on one bot: list pages, filtered lists, get by id, statistics and status updates.
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")
local STATUSES = {"pending", "in_transit", "delivered", "issued", "cancelled"}
local counter, ids, prefix, list, stats = 0

function init(args)
   math.randomseed(os.time() * 100 + tid)
   ids, prefix = read_ids(), os.getenv("BENCH_PREFIX")
   list, stats = os.getenv("BENCH_LIST"), os.getenv("BENCH_STATS")
end

function request()
   counter = counter + 1
   local pick, id = counter % 10, ids[math.random(#ids)]
   if pick < 3 then
      return wrk.format("GET", list .. "?page=" .. math.random(100) .. "&page_size=50", wrk.headers)
   elseif pick < 4 then
      return wrk.format("GET", list .. "?status_filter=" .. STATUSES[math.random(5)] .. "&page_size=50", wrk.headers)
   elseif pick < 7 then
      return wrk.format("GET", prefix .. id, wrk.headers)
   elseif pick < 8 then
      return wrk.format("GET", stats, wrk.headers)
   end
   return wrk.format("PUT", prefix .. id, wrk.headers, string.format('{"status": "%s"}', STATUSES[math.random(5)]))
end
