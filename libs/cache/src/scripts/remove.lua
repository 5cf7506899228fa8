-- OrderRemove (ingest.md §5.5 steps 1-2 and the Redis half of 3-4): delete the order and take its
-- remaining size out of its level; remember the id in a canceled set for 30 s.
-- keys (from kb + 1): order, orderData, subaccount order ids, state filled quantums, order book facts
-- args (from ab + 1): uuid, market group, removal status (1 best effort canceled, 2 canceled, 3 filled),
--       stateful user cancel 0/1 (level message even for a zero change, no canceled set),
--       expired-before height ('' unless the reason is INDEXER_EXPIRED)
-- record: 'R missing' | 'R not_expired' | 'R removed filled resting state_filled changed side price
--         level seq exceeds clamped' followed by the removed encoded order
local CANCELED_WINDOW_MS = 30000

local function remember_canceled(ctx, set_key, uuid)
  if not ctx.purged[set_key] then
    redis.call('ZREMRANGEBYSCORE', set_key, '-inf', '(' .. ctx.now_ms)
    ctx.purged[set_key] = true
  end
  defer(ctx, 'z', set_key, uuid, int_str(tonumber(ctx.now_ms) + CANCELED_WINDOW_MS))
end

local function remove_order(ctx, kb, ab)
  local order_key, data_key, subaccount_key, state_filled_key, facts_key =
    KEYS[kb + 1], KEYS[kb + 2], KEYS[kb + 3], KEYS[kb + 4], KEYS[kb + 5]
  local uuid, g, status, stateful_cancel, expired_before =
    ARGV[ab + 1], tonumber(ARGV[ab + 2]), ARGV[ab + 3], ARGV[ab + 4] == '1', ARGV[ab + 5]
  local current = redis.call('MGET', order_key, data_key, state_filled_key, facts_key)
  if not current[1] then return emit(ctx, 'R missing') end
  local expiry, filled, resting = parse_order_data(current[2])
  if expired_before ~= '' and tonumber(expiry) >= tonumber(expired_before) then
    return emit(ctx, 'R not_expired')
  end
  redis.call('DEL', order_key, data_key, facts_key)
  redis.call('HDEL', subaccount_key, uuid)
  defer(ctx, 'z', ctx.expiry_key, uuid, nil)
  local facts = stored_facts(current[4], current[1])
  local filled_q = qty(filled)
  local exceeds, remaining = 0, 0
  local order = q_cmp(filled_q, facts.quantums)
  if order > 0 then exceeds = 1 end
  if order < 0 then remaining = q_sub(facts.quantums, filled_q) end
  local changed, level, seq, clamped = 0, '-', '-', 0
  if resting ~= 'false' and not is_immediate(facts) and (stateful_cancel or not q_is_zero(remaining)) then
    local group = ctx.groups[g]
    if q_is_zero(remaining) then
      level = level_size(group, facts.side, facts.price)
    else
      level, clamped = change_level(ctx, group, facts.side, facts.price, q_delta(0, remaining))
    end
    seq = next_seq(ctx, g)
    changed = 1
  end
  if not stateful_cancel then
    if status == '1' then remember_canceled(ctx, ctx.best_effort_key, uuid) end
    if status == '2' then remember_canceled(ctx, ctx.cancelled_key, uuid) end
  end
  emit(ctx, 'R removed ' .. filled .. ' ' .. resting .. ' ' .. field(current[3]) .. ' ' .. changed .. ' ' .. facts.side
    .. ' ' .. field(facts.price) .. ' ' .. level .. ' ' .. seq .. ' ' .. exceeds .. ' ' .. clamped, current[1])
end
