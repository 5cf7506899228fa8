-- OrderUpdate (ingest.md §5.4): record the new absolute fill and move the order's remaining size
-- into or within its price level. Replaying the same update computes a zero delta.
-- keys (from kb + 1): order, orderData, order book facts
-- args (from ab + 1): uuid, market group, new total filled, cache if missing 0/1, encoded OrderUpdateV1
-- record: 'U outcome' for missing | cached, else 'U outcome old_filled old_resting side price level
--         seq new_exceeds old_exceeds clamped' (outcome zero_delta | immediate | changed)
local function update_order(ctx, kb, ab)
  local data_key, facts_key = KEYS[kb + 2], KEYS[kb + 3]
  local uuid, g, new_filled, cache, encoded =
    ARGV[ab + 1], tonumber(ARGV[ab + 2]), ARGV[ab + 3], ARGV[ab + 4] == '1', ARGV[ab + 5]
  -- orderData exists exactly when the order does; the order itself is only read if it has no
  -- companion facts.
  local current = redis.call('MGET', data_key, facts_key)
  if not current[1] then
    if cache then
      redis.call('ZADD', ctx.update_ids_key, ctx.now_ms, uuid)
      redis.call('HSET', ctx.updates_key, uuid, encoded)
      return emit(ctx, 'U cached')
    end
    return emit(ctx, 'U missing')
  end
  local expiry, old_filled, old_resting = parse_order_data(current[1])
  redis.call('SET', data_key, expiry .. '_' .. new_filled .. '_true')
  local facts
  if current[2] then facts = stored_facts(current[2], nil) else facts = book_facts(redis.call('GET', KEYS[kb + 1])) end
  local size = facts.quantums
  local new_q, old_q = qty(new_filled), qty(old_filled)
  local new_exceeds, old_exceeds = 0, 0
  if q_cmp(new_q, size) > 0 then new_q = size; new_exceeds = 1 end
  if q_cmp(old_q, size) > 0 then old_q = size; old_exceeds = 1 end
  -- Not resting yet: the order enters with its remaining size. Resting: fills shrink the level,
  -- and a lower total (an optimistic fill that did not make it into a block) grows it back.
  local from, to
  if old_resting ~= 'true' then from, to = size, new_q else from, to = old_q, new_q end
  local outcome, level, seq, clamped = 'changed', '-', '-', 0
  if q_cmp(from, to) == 0 then
    outcome = 'zero_delta'
  elseif is_immediate(facts) then
    outcome = 'immediate'
  else
    level, clamped = change_level(ctx, ctx.groups[g], facts.side, facts.price, q_delta(from, to))
    seq = next_seq(ctx, g)
  end
  emit(ctx, 'U ' .. outcome .. ' ' .. old_filled .. ' ' .. old_resting .. ' ' .. facts.side .. ' ' .. field(facts.price)
    .. ' ' .. level .. ' ' .. seq .. ' ' .. new_exceeds .. ' ' .. old_exceeds .. ' ' .. clamped)
end
