-- Removes cached stateful-order updates parked before ARGV[1] (epoch ms) from both the id set
-- and the update hash, at most ARGV[2] per call. Returns the removed order ids.
-- KEYS: stateful order update ids (zset), stateful order updates (hash)
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
end
return ids
