-- Deletes the empty levels (size 0 or below) of one side of a market's book from both the level
-- hash and its lastUpdated companion. Readers already skip such levels, so no seq changes: no
-- client-visible state changes.
-- KEYS: levels, lastUpdated. Returns the number of levels deleted.
local deleted = 0
local entries = redis.call('HGETALL', KEYS[1])
for i = 1, #entries, 2 do
  local price, size = entries[i], entries[i + 1]
  if size == '0' or string.sub(size, 1, 1) == '-' then
    redis.call('HDEL', KEYS[1], price)
    redis.call('HDEL', KEYS[2], price)
    deleted = deleted + 1
  end
end
return deleted
