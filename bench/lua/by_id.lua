-- GET BENCH_PREFIX<id> on random ids of the bot, so that every request reads another row.
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")
local ids, prefix

function init(args)
   math.randomseed(os.time() * 100 + tid)
   ids, prefix = read_ids(), os.getenv("BENCH_PREFIX")
end

function request()
   return wrk.format("GET", prefix .. ids[math.random(#ids)], wrk.headers)
end
