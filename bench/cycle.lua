-- wrk script for comparison 7: every connection runs create -> PUT 4 KiB -> grow -> delete
-- cycles on sections of its own. Run it with as many threads as connections (-tN -cN):
-- wrk keeps one Lua state per thread, so one connection per thread keeps each cycle in order.
--   wrk -t32 -c32 -d5s --latency -H "Authorization: Bearer T" -s cycle.lua URL -- PREFIX
-- Prints "cycle_cycles N", "cycle_errors N" and the first unexpected answer, if any.
--
-- setup() and done() run in wrk's main Lua state; thread:set/get read and write the globals of
-- a thread's own state, so the per-thread counters below are globals on purpose.

local threads = {}
local counter = 0

function setup(thread)
   counter = counter + 1
   thread:set("tid", counter)
   table.insert(threads, thread)
end

-- per-thread globals: tid (from setup), prefix, n (cycle number), step, cycles, errors, first_error
local payload = string.rep("shm-admin bench!", 256) -- 4096 bytes
local headers_json, headers_bytes = {}, {}

function init(args)
   prefix = args[1] or "bench-cycle-"
   tid = tid or 0
   n, step, cycles, errors, first_error = 0, 0, 0, 0, ""
   for k, v in pairs(wrk.headers) do
      headers_json[k] = v
      headers_bytes[k] = v
   end
   headers_json["Content-Type"] = "application/json"
   headers_bytes["Content-Type"] = "application/octet-stream"
end

local function name()
   return string.format("%st%d-%d", prefix, tid, n)
end

function request()
   local nm = name()
   if step == 0 then
      return wrk.format("POST", "/api/v1/sections", headers_json,
         string.format('{"name":"%s","reserve":"1MiB","commit":"4KiB","exclusive":true}', nm))
   elseif step == 1 then
      return wrk.format("PUT", "/api/v1/sections/" .. nm .. "/data?offset=0", headers_bytes, payload)
   elseif step == 2 then
      return wrk.format("POST", "/api/v1/sections/" .. nm .. "/grow", headers_json, '{"by":"64KiB"}')
   else
      return wrk.format("DELETE", "/api/v1/sections/" .. nm, headers_json, nil)
   end
end

function response(status, headers, body)
   if status < 200 or status > 299 then
      errors = errors + 1
      if first_error == "" then
         first_error = string.format("step %d (%s) -> %d %s", step, name(), status, string.sub(body or "", 1, 200))
      end
      if step == 0 then -- nothing was created: start the next cycle
         n, step = n + 1, 0
         return
      elseif step < 3 then -- still delete what was created
         step = 3
         return
      end
   end
   step = step + 1
   if step == 4 then
      step, n, cycles = 0, n + 1, cycles + 1
   end
end

function done(summary, latency, requests)
   local c, e, first = 0, 0, ""
   for _, t in ipairs(threads) do
      c = c + (t:get("cycles") or 0)
      e = e + (t:get("errors") or 0)
      local f = t:get("first_error")
      if first == "" and f and f ~= "" then first = f end
   end
   io.write(string.format("cycle_cycles %d\ncycle_errors %d\n", c, e))
   if first ~= "" then io.write("cycle_first_error " .. first:gsub("\n", " ") .. "\n") end
end
