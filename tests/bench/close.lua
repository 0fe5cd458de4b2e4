-- wrk: a new connection for every request.
local path = os.getenv("BENCH_PATH") or "/"
request = function()
   return wrk.format("GET", path, { ["Connection"] = "close" })
end
