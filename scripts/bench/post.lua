-- wrk script for scripts/bench.sh: POSTs the file named by $WRK_BODY (keep-alive)
-- as $WRK_CONTENT_TYPE (default application/json), with the extra headers in
-- $WRK_HEADERS ("name: value" pairs separated by ";"), and prints one
-- machine-readable summary line:
-- WRK requests=N non2xx=N socket_errors=N secs=S rps=R p50_us=X p99_us=Y
-- With $WRK_METHOD=GET it sends bodiless GETs instead (the third-party-backend
-- run's GET /v1/items/apple), and $WRK_BODY is not read.
if os.getenv("WRK_METHOD") == "GET" then
  wrk.method = "GET"
else
  local f = assert(io.open(os.getenv("WRK_BODY"), "rb"))
  wrk.method = "POST"
  wrk.body = f:read("*a")
  f:close()
  wrk.headers["Content-Type"] = os.getenv("WRK_CONTENT_TYPE") or "application/json"
end
for pair in string.gmatch(os.getenv("WRK_HEADERS") or "", "[^;]+") do
  local name, value = string.match(pair, "^%s*([^:]+):%s*(.-)%s*$")
  if name then wrk.headers[name] = value end
end
-- $WRK_AUTH, when set, is sent as the Authorization header (the JWT figures).
local auth = os.getenv("WRK_AUTH")
if auth and auth ~= "" then
  wrk.headers["Authorization"] = auth
end

function done(summary, latency, requests)
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    "WRK requests=%d non2xx=%d socket_errors=%d secs=%.3f rps=%.1f p50_us=%.1f p99_us=%.1f\n",
    summary.requests, e.status, e.connect + e.read + e.write + e.timeout, secs,
    summary.requests / secs, latency:percentile(50), latency:percentile(99)))
end
