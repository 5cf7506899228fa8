-- OrderPlace (ingest.md §5.3 steps 2-3, 5): store the order unless an order with this id and an
-- equal or later expiry is already stored; a later expiry replaces the stored order but keeps
-- its fill. The price levels are not touched: an order enters its level with its first update.
-- keys: order, orderData, subaccount order ids, order book facts
-- args: uuid, encoded RedisOrder, expiry, short-term 0/1, pop cached stateful update 0/1, book facts
-- result: {'P', placed, replaced, old total filled, old resting, popped update or ''}
local function place_order(ctx, keys, args)
  local order_key, data_key, subaccount_key, facts_key = keys[1], keys[2], keys[3], keys[4]
  local uuid, blob, expiry, short_term, pop, facts = args[1], args[2], args[3], args[4] == '1', args[5] == '1', args[6]
  local current = redis.call('MGET', order_key, data_key)
  local placed, replaced, old_filled, old_resting = 0, 0, '0', 'false'
  if not current[1] then
    redis.call('MSET', order_key, blob, data_key, expiry .. '_0_false', facts_key, facts)
    redis.call('HSET', subaccount_key, uuid, '1')
    if short_term then redis.call('ZADD', ctx.expiry_key, expiry, uuid) end
    placed = 1
  else
    local old_expiry
    old_expiry, old_filled, old_resting = parse_order_data(current[2])
    if tonumber(expiry) > tonumber(old_expiry) then
      redis.call('MSET', order_key, blob, data_key, expiry .. '_' .. old_filled .. '_false', facts_key, facts)
      if short_term then redis.call('ZADD', ctx.expiry_key, expiry, uuid) end
      replaced = 1
    end
  end
  redis.call('ZREM', ctx.cancelled_key, uuid)
  redis.call('ZREM', ctx.best_effort_key, uuid)
  local popped = ''
  if pop then
    local score = redis.call('ZSCORE', ctx.update_ids_key, uuid)
    if score and tonumber(score) <= tonumber(ctx.now_ms) then
      redis.call('ZREM', ctx.update_ids_key, uuid)
      popped = redis.call('HGET', ctx.updates_key, uuid) or ''
      redis.call('HDEL', ctx.updates_key, uuid)
    end
  end
  return {'P', placed, replaced, old_filled, old_resting, popped}
end
