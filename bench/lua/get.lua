-- One fixed GET (BENCH_PATH, or wrk's URL): list pages, filters, cursor pages, statistics, the floor.
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")
