-- Removes chosen levels of one market's book (both sides) if, and only if, each is still stale:
-- its lastUpdated is more than ARGV[2] seconds before the server's clock. A level that changed
-- since it was chosen is kept. Each removed level that clients could see (size > 0) takes the
-- next order-book seq, so the caller can announce it as a size-0 level message and clients'
-- books stay in step with the snapshots (beyond.md §1).
-- KEYS: BUY levels, BUY lastUpdated, SELL levels, SELL lastUpdated, order-book seq, stream epoch
-- ARGV: epoch candidate (stored if no epoch exists), max age seconds, bid count, bid prices...,
--       ask prices...
-- Returns {epoch, side, price, seq, side, price, seq, ...}; seq is '' for a level that was
-- already empty (removed without a message).
local now = tonumber(redis.call('TIME')[1])
local max_age = tonumber(ARGV[2])
local bid_count = tonumber(ARGV[3])
local epoch = redis.call('GET', KEYS[6])
if not epoch then
  epoch = ARGV[1]
  redis.call('SET', KEYS[6], epoch)
end
local seq = nil
local result = {epoch}
for i = 4, #ARGV do
  local price = ARGV[i]
  local side, levels, last = 'BUY', KEYS[1], KEYS[2]
  if i - 3 > bid_count then side, levels, last = 'SELL', KEYS[3], KEYS[4] end
  local updated = tonumber(redis.call('HGET', last, price))
  if updated and now - updated > max_age then
    local size = redis.call('HGET', levels, price) or '0'
    redis.call('HDEL', levels, price)
    redis.call('HDEL', last, price)
    local level_seq = ''
    if size ~= '0' and string.sub(size, 1, 1) ~= '-' then
      if seq == nil then seq = tonumber(redis.call('GET', KEYS[5]) or '0') end
      seq = seq + 1
      level_seq = string.format('%.0f', seq)
    end
    table.insert(result, side)
    table.insert(result, price)
    table.insert(result, level_seq)
  end
end
if seq ~= nil then redis.call('SET', KEYS[5], string.format('%.0f', seq)) end
return result
