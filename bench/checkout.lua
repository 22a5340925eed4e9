-- wrk script for bench.checkout: replays pre-signed requests, one file per thread (one connection each),
-- so a thread's quote -> commit -> complete run strictly in order.
local counter = 0

function setup(thread)
   thread:set("id", counter)
   counter = counter + 1
end

function init(args)
   reqs = {}
   for line in io.lines(args[1] .. "/t" .. id .. ".tsv") do
      local method, path, key, ts, nonce, sig, body = line:match("([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)")
      local headers = {
         ["Content-Type"] = "application/json",
         ["X-Api-Key"] = key,
         ["X-Timestamp"] = ts,
         ["X-Nonce"] = nonce,
         ["X-Signature"] = sig,
      }
      reqs[#reqs + 1] = wrk.format(method, path, headers, body ~= "" and body or nil)
   end
   i = 0
   sent = 0
end

function request()
   i = i % #reqs + 1
   sent = sent + 1
   return reqs[i]
end

function done(summary, latency, requests)
   io.write(string.format(
      "RESULT requests=%d duration_us=%d non2xx=%d errors=%d p50_us=%d p99_us=%d\n",
      summary.requests, summary.duration, summary.errors.status,
      summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
      latency:percentile(50), latency:percentile(99)))
end
