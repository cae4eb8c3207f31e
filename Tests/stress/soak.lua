-- Tests/stress/soak.lua: the wrk side of the soak (`make stress`, Tests/stress/soak.py).
--   wrk ... -s soak.lua URL -- ADMIN_TOKEN PREFIX SECTIONS
-- Rotates through list, detail, pages, views, dumps in every format (raw with and without Range),
-- system, metrics and healthz on the soak's fixture sections PREFIXf0 … PREFIXf(SECTIONS-1), which
-- nobody deletes: every answer must be 2xx. At the end it prints, for soak.py to parse:
--   status CODE COUNT          one line per status code seen
--   sample CODE BODY           up to 5 non-2xx answers per thread (first 200 bytes)
local threads = {}

function setup(thread)
   thread:set("id", #threads)
   table.insert(threads, thread)
end

function init(args)
   local token, prefix, sections = args[1], args[2], tonumber(args[3] or "4")
   wrk.headers["Authorization"] = "Bearer " .. token
   statuses = {}
   samples = {}
   local list = {}
   local function add(path, headers)
      table.insert(list, wrk.format("GET", path, headers))
   end
   add("/api/v1/sections?limit=100")
   add("/api/v1/sections?q=" .. prefix .. "&managed=true")
   add("/api/v1/system")
   add("/metrics")
   add("/healthz")
   for i = 0, sections - 1 do
      local s = "/api/v1/sections/" .. prefix .. "f" .. i
      add(s)
      add(s .. "/pages")
      add(s .. "/pages?from=0&to=262144&maxRuns=16")
      add(s .. "/views")
      add(s .. "/data?offset=0&length=4096&format=hex")
      add(s .. "/data?offset=4096&length=4096&format=base64")
      add(s .. "/data?offset=0&length=2048&format=hexdump")
      add(s .. "/data?offset=0&length=65536&format=raw")
      add(s .. "/data?format=raw", { ["Authorization"] = "Bearer " .. token, ["Range"] = "bytes=100-8291" })
      if i == 0 then
         add(s .. "/data?format=raw")  -- the whole commit (1 MiB), streamed
      end
   end
   rotation = list
   counter = (id or 0) * 7
end

function request()
   counter = counter % #rotation + 1
   return rotation[counter]
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
   if (status < 200 or status > 299) and #samples < 5 then
      table.insert(samples, tostring(status) .. " " .. string.gsub(string.sub(body or "", 1, 200), "\n", " "))
   end
end

function done(summary, latency, requests)
   local total = {}
   for _, t in ipairs(threads) do
      for code, count in pairs(t:get("statuses")) do
         total[code] = (total[code] or 0) + count
      end
      for _, s in ipairs(t:get("samples")) do
         io.write("sample " .. s .. "\n")
      end
   end
   for code, count in pairs(total) do
      io.write(string.format("status %d %d\n", code, count))
   end
end
