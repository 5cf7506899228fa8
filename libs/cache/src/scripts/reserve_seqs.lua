-- Reserves sequence numbers on several channel counters at once and returns the stream epoch
-- they belong to (creating it if Redis was cleared).
-- KEYS: stream epoch, then one counter per channel. ARGV: epoch candidate, then one count per
-- counter. Returns {epoch, last reserved value per counter}.
local epoch = redis.call('GET', KEYS[1])
if not epoch then
  epoch = ARGV[1]
  redis.call('SET', KEYS[1], epoch)
end
local out = {epoch}
for i = 2, #KEYS do
  out[i] = string.format('%.0f', redis.call('INCRBY', KEYS[i], ARGV[i]))
end
return out
