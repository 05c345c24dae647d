-- GET /api/v1/livechat/triggers: the list (the mock holds 10 stored triggers).
local common = dofile((os.getenv("BENCH_LUA_DIR") or "bench/lua") .. "/common.lua")

wrk.method = "GET"
wrk.headers = common.headers(false)

done = common.done
