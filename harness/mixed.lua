-- wrk script: cycle through a list of mixed requests (harness/mix.py writes it), count every
-- answer that is not 2xx, and print the run's figures as one JSON line.
--
--   wrk -t 2 -c 64 -d 60s --timeout 10s -s harness/mixed.lua http://127.0.0.1:8000 -- requests.tsv
--
-- Each line of the file is METHOD<TAB>PATH<TAB>JSON body or nothing. Each thread starts at its own
-- place in the list, so the threads ask different things. Output lines for harness/traffic.py:
--   WRK_SAMPLE<TAB>status<TAB>start of the body     (the first few answers that were not 2xx)
--   WRK_JSON {...}                                  (the figures; latencies in microseconds)

local threads = {}
local created = 0

function setup(thread)
   thread:set("number", created)
   created = created + 1
   table.insert(threads, thread)
end

local requests = {}
local position = 1
non2xx = 0
samples = ""
local kept = 0

function init(args)
   for line in io.lines(args[1]) do
      local method, target, body = line:match("^(%u+)\t([^\t]+)\t(.*)$")
      if method == nil then
         error("bad request line: " .. line)
      end
      local headers = {}
      if body == "" then
         body = nil
      else
         headers["Content-Type"] = "application/json"
      end
      table.insert(requests, wrk.format(method, target, headers, body))
   end
   if #requests == 0 then
      error("no requests in " .. args[1])
   end
   local spread = tonumber(args[2] or "1")
   position = (number * math.floor(#requests / spread)) % #requests + 1
end

function request()
   local r = requests[position]
   position = position % #requests + 1
   return r
end

function response(status, headers, body)
   if status < 200 or status > 299 then
      non2xx = non2xx + 1
      if kept < 5 then
         kept = kept + 1
         local head = (body or ""):sub(1, 300):gsub("[\r\n\t]", " ")
         samples = samples .. "WRK_SAMPLE\t" .. status .. "\t" .. head .. "\n"
      end
   end
end

function done(summary, latency, requests)
   local bad, text = 0, ""
   for _, thread in ipairs(threads) do
      bad = bad + thread:get("non2xx")
      text = text .. thread:get("samples")
   end
   io.write(text)
   local e = summary.errors
   io.write(string.format(
      'WRK_JSON {"requests": %d, "duration_us": %d, "bytes": %d, "non2xx": %d, '
         .. '"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d, '
         .. '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
      summary.requests, summary.duration, summary.bytes, bad,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency.max, latency.mean))
end
