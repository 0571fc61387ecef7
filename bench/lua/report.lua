-- Shared by every scenario script (loaded with dofile): the API key header, a number per wrk thread, and the
-- summary printed as one JSON line, so that run.py reads figures rather than parsing wrk's text.
wrk.headers["X-API-Key"] = os.getenv("BENCH_KEY")
wrk.headers["Content-Type"] = "application/json"

local threads = 0
function setup(thread)
   threads = threads + 1
   thread:set("tid", threads)
end

function done(summary, latency, requests)
   local seconds = summary.duration / 1e6
   local e = summary.errors
   io.write(string.format(
      'BENCH_JSON {"requests": %d, "seconds": %.3f, "rps": %.2f, "p50_ms": %.3f, "p99_ms": %.3f, ' ..
      '"max_ms": %.3f, "non_2xx": %d, "socket_errors": %d, "timeouts": %d}\n',
      summary.requests, seconds, summary.requests / seconds, latency:percentile(50) / 1000,
      latency:percentile(99) / 1000, latency.max / 1000, e.status, e.connect + e.read + e.write, e.timeout))
end

-- The ids of a bot's tracking numbers to pick from at random (a file of one id a line, written by run.py).
function read_ids()
   local ids = {}
   for line in io.lines(os.getenv("BENCH_IDS")) do ids[#ids + 1] = line end
   return ids
end
