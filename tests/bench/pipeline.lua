-- wrk: ten requests in each write (HTTP pipelining); wrk counts every response.
local path = os.getenv("BENCH_PATH") or "/"
init = function(args)
   local one = wrk.format("GET", path)
   request_batch = string.rep(one, 10)
end
request = function()
   return request_batch
end
