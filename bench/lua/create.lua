-- POST a new tracking number per request: BENCH_RUN-<phase>-<thread>-<counter> is unique across threads, runs
-- and the warm-up before the measured run. BENCH_FIELDS, when set, replaces the fields after client_code (the
-- comparison with the peers sends fields every system takes).
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")
local counter, run, path, client, fields = 0

function init(args)
   run = os.getenv("BENCH_RUN") .. "-" .. (os.getenv("BENCH_PHASE") or "")
   path, client = os.getenv("BENCH_PATH"), os.getenv("BENCH_CLIENT")
   fields = os.getenv("BENCH_FIELDS") or '"weight_kg": 2.5, "price_per_kg_usd": 3.5'
end

function request()
   counter = counter + 1
   local body = string.format('{"tracking_number": "%s-%d-%d", "client_code": "%s", %s}', run, tid, counter,
                              client, fields)
   return wrk.format("POST", path, wrk.headers, body)
end
