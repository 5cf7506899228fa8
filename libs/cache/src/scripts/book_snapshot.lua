#!lua flags=no-writes
-- Both sides of one market's book with their lastUpdated times, the order-book seq and the stream
-- epoch, read atomically: the seq is exactly the number of level messages already reflected.
-- KEYS: BUY levels, BUY lastUpdated, SELL levels, SELL lastUpdated, order-book seq, stream epoch
return {
  redis.call('HGETALL', KEYS[1]),
  redis.call('HGETALL', KEYS[2]),
  redis.call('HGETALL', KEYS[3]),
  redis.call('HGETALL', KEYS[4]),
  redis.call('GET', KEYS[5]) or '0',
  redis.call('GET', KEYS[6]) or '',
}
