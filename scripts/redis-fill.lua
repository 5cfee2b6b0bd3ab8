-- SPDX-License-Identifier: BSD-3-Clause
-- Fills a redis server with ARGV[1] keys key:000000000000.. (the names
-- redis-benchmark -r reads), each a value of about 4000 bytes of text:
-- words drawn at random (seed ARGV[2]), which compress about as well as
-- cached pages of a real service do. Used by scripts/mem-server-trial.sh:
--   redis-cli -h IP --eval scripts/redis-fill.lua , KEYS SEED
local n = tonumber(ARGV[1])
local words = { "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
	"india", "juliett", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec",
	"romeo", "sierra", "tango", "uniform", "victor", "whiskey", "xray", "yankee", "zulu",
	"0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "{", "}", ":", "," }
local values = {}
math.randomseed(tonumber(ARGV[2]))
for b = 1, 256 do
	local t, len = {}, 0
	while len < 4000 do
		local w = words[math.random(#words)]
		t[#t + 1] = w
		len = len + #w + 1
	end
	values[b] = string.sub(table.concat(t, " "), 1, 4000)
end
for i = 0, n - 1 do
	redis.call('SET', string.format('key:%012d', i), values[(i * 7 + 3) % 256 + 1])
end
return n
