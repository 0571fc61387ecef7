-- PUT a new status on a random tracking number of the bot, cycling through the five statuses.
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")
local STATUSES = {"pending", "in_transit", "delivered", "issued", "cancelled"}
local counter, ids, prefix = 0

function init(args)
   math.randomseed(os.time() * 100 + tid)
   ids, prefix = read_ids(), os.getenv("BENCH_PREFIX")
end

function request()
   counter = counter + 1
   local body = string.format('{"status": "%s"}', STATUSES[counter % #STATUSES + 1])
   return wrk.format("PUT", prefix .. ids[math.random(#ids)], wrk.headers, body)
end
