-- OrderPlace (ingest.md §5.3 steps 2-3, 5): store the order unless an order with this id and an
-- equal or later expiry is already stored; a later expiry replaces the stored order but keeps
-- its fill. The price levels are not touched: an order enters its level with its first update.
-- keys (from kb + 1): order, orderData, subaccount order ids, order book facts
-- args (from ab + 1): uuid, encoded RedisOrder, expiry, short-term 0/1,
--                     pop cached stateful update 0/1, book facts
-- record: 'P placed replaced old_total_filled old_resting popped', then the popped update if popped = 1
local function place_order(ctx, kb, ab)
  local order_key, data_key, subaccount_key, facts_key = KEYS[kb + 1], KEYS[kb + 2], KEYS[kb + 3], KEYS[kb + 4]
  local uuid, blob, expiry, short_term, pop, facts =
    ARGV[ab + 1], ARGV[ab + 2], ARGV[ab + 3], ARGV[ab + 4] == '1', ARGV[ab + 5] == '1', ARGV[ab + 6]
  local current = redis.call('MGET', order_key, data_key)
  local placed, replaced, old_filled, old_resting = 0, 0, '0', 'false'
  if not current[1] then
    redis.call('MSET', order_key, blob, data_key, expiry .. '_0_false', facts_key, facts)
    redis.call('HSET', subaccount_key, uuid, '1')
    if short_term then defer(ctx, 'z', ctx.expiry_key, uuid, expiry) end
    placed = 1
  else
    local old_expiry
    old_expiry, old_filled, old_resting = parse_order_data(current[2])
    if tonumber(expiry) > tonumber(old_expiry) then
      redis.call('MSET', order_key, blob, data_key, expiry .. '_' .. old_filled .. '_false', facts_key, facts)
      if short_term then defer(ctx, 'z', ctx.expiry_key, uuid, expiry) end
      replaced = 1
    end
  end
  defer(ctx, 'z', ctx.cancelled_key, uuid, nil)
  defer(ctx, 'z', ctx.best_effort_key, uuid, nil)
  local popped = ''
  if pop then
    local score = redis.call('ZSCORE', ctx.update_ids_key, uuid)
    if score and tonumber(score) <= tonumber(ctx.now_ms) then
      redis.call('ZREM', ctx.update_ids_key, uuid)
      popped = redis.call('HGET', ctx.updates_key, uuid) or ''
      redis.call('HDEL', ctx.updates_key, uuid)
    end
  end
  local has_popped = popped ~= ''
  emit(ctx, 'P ' .. placed .. ' ' .. replaced .. ' ' .. old_filled .. ' ' .. old_resting .. ' ' .. (has_popped and '1' or '0'),
    has_popped and popped or nil)
end
