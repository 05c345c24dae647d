-- Shared by the scenario scripts (loaded with dofile; BENCH_LUA_DIR is set by bench/run.py).
-- Credentials come from the environment so the same scripts serve the mock and Prism.
local M = {}

function M.headers(with_body)
  local h = {
    ["X-User-Id"] = os.getenv("BENCH_USER_ID") or "bench-admin",
    ["X-Auth-Token"] = os.getenv("BENCH_AUTH_TOKEN") or "bench-token",
    ["Accept"] = "application/json",
  }
  if with_body then
    h["Content-Type"] = "application/json"
  end
  return h
end

-- One machine-readable line for bench/run.py (latency values are microseconds).
function M.done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,'
      .. '"max_us":%d,"mean_us":%.1f,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean, e.connect, e.read, e.write, e.status, e.timeout))
end

return M
