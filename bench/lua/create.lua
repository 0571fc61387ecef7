-- POST a new tracking number per request: BENCH_RUN-<phase>-<thread>-<counter> is unique across threads, runs
-- and the warm-up before the measured run.
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")
local counter, run, path, client = 0

function init(args)
   run = os.getenv("BENCH_RUN") .. "-" .. (os.getenv("BENCH_PHASE") or "")
   path, client = os.getenv("BENCH_PATH"), os.getenv("BENCH_CLIENT")
end

function request()
   counter = counter + 1
   local body = string.format('{"tracking_number": "%s-%d-%d", "client_code": "%s", "weight_kg": 2.5, ' ..
                              '"price_per_kg_usd": 3.5}', run, tid, counter, client)
   return wrk.format("POST", path, wrk.headers, body)
end
