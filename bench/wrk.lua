-- wrk script of the Tokenward benchmark (driven by bench/run.py through the environment).
--
--   TW_BENCH_BODY        the JSON body of every POST (required)
--   TW_BENCH_KEY         API key sent as "Authorization: Bearer <key>" (optional)
--   TW_BENCH_HEADERS     more request headers, one "Name: value" a line (optional; e.g.
--                        "x-api-key: <key>" and "anthropic-version: ..." of an Anthropic client)
--   TW_BENCH_STOP_AFTER  after that many responses, print "TWBENCH_REACHED" and stop
--                        this thread (optional; wrk itself sleeps out -d, so run.py
--                        sends it SIGINT on that line)
--
-- At the end it prints one line "TWBENCH {json}" with the summary, the error counts
-- and latency percentiles in microseconds, so run.py never parses wrk's text output.

local body = os.getenv("TW_BENCH_BODY")
local key = os.getenv("TW_BENCH_KEY")
local extra_headers = os.getenv("TW_BENCH_HEADERS")
local stop_after = tonumber(os.getenv("TW_BENCH_STOP_AFTER") or "")

if not body or body == "" then
  error("TW_BENCH_BODY is not set")
end

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
if key and key ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. key
end
if extra_headers and extra_headers ~= "" then
  for line in extra_headers:gmatch("[^\n]+") do
    local name, value = line:match("^([^:]+):%s*(.*)$")
    if name then
      wrk.headers[name] = value
    end
  end
end

-- defined only when asked: a response() callback makes wrk hand every reply to Lua
if stop_after then
  local seen = 0
  function response(status, headers, reply)
    seen = seen + 1
    if seen == stop_after then
      io.write("TWBENCH_REACHED\n")
      io.stdout:flush()
      wrk.thread:stop()
    end
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'TWBENCH {"requests":%d,"duration_us":%d,"bytes":%d,'
      .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
      .. '"latency_us":{"mean":%.1f,"stdev":%.1f,"max":%.1f,'
      .. '"p50":%.1f,"p75":%.1f,"p90":%.1f,"p99":%.1f,"p999":%.1f}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.stdev, latency.max,
    latency:percentile(50), latency:percentile(75), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9)
  ))
end
