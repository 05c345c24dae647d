-- Valid POST /api/v1/livechat/triggers: creates a trigger (the published page's example, typed).
local common = dofile((os.getenv("BENCH_LUA_DIR") or "bench/lua") .. "/common.lua")

wrk.method = "POST"
wrk.headers = common.headers(true)
wrk.body = '{"name":"api-trigger","description":"testing create trigger endpoint","enabled":false,'
  .. '"runOnce":true,"conditions":[{"name":"chat-opened-by-visitor","value":"0"}],'
  .. '"actions":[{"name":"send-message","params":{"sender":"queue","msg":"hello world"}}]}'

done = common.done
