-- wrk script for comparison 8's soak: rotates through the read endpoints a monitor polls.
--   wrk ... -s soak.lua URL -- SECTION_NAME
local paths = {}

function init(args)
   local section = args[1] or "none"
   paths = {
      "/api/v1/sections?limit=100",
      "/api/v1/system",
      "/metrics",
      "/healthz",
      "/api/v1/sections/" .. section,
      "/api/v1/sections/" .. section .. "/pages",
      "/api/v1/sections?q=" .. section,
      "/api/v1/sections?limit=10&offset=5000",
   }
end

local i = 0
function request()
   i = i % #paths + 1
   return wrk.format("GET", paths[i])
end
