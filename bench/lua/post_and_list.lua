-- A valid POST and a GET list in turn on each connection (bench/compare.py --scenario post-and-list):
-- the list reads the memory store's order index after every few inserts, so an insert's share of the
-- index work is paid inside the run, not left for a list that never comes.
local dir = os.getenv("BENCH_LUA_DIR") or "bench/lua"
local common = dofile(dir .. "/common.lua")
dofile(dir .. "/post_valid.lua") -- sets wrk.body to the valid POST's body
local body = wrk.body
local post, list
local turn = 0

function request()
  if post == nil then
    post = wrk.format("POST", nil, common.headers(true), body)
    list = wrk.format("GET", nil, common.headers(false), nil)
  end
  turn = turn + 1
  if turn % 2 == 1 then
    return post
  end
  return list
end

done = common.done
