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
  local new_b, old_b = big(new_filled), big(old_filled)
  local new_exceeds, old_exceeds = 0, 0
  if big_cmp(new_b, size) > 0 then new_b = size; new_exceeds = 1 end
  if big_cmp(old_b, size) > 0 then old_b = size; old_exceeds = 1 end
  -- Not resting yet: the order enters with its remaining size. Resting: fills shrink the level,
  -- and a lower total (an optimistic fill that did not make it into a block) grows it back.
  local from, to
  if old_resting ~= 'true' then from, to = size, new_b else from, to = old_b, new_b end
  local outcome, level, seq, clamped = 'changed', '', '', 0
  local order = big_cmp(from, to)
  if order == 0 then
    outcome = 'zero_delta'
  elseif is_immediate(facts) then
    outcome = 'immediate'
  else
    local delta
    if order > 0 then delta = big_str(big_sub(from, to)) else delta = '-' .. big_str(big_sub(to, from)) end
    level, clamped = change_level(ctx, ctx.groups[g], facts.side, facts.price, delta)
    seq = next_seq(ctx, g)
  end
  emit(ctx, table.concat({'U', outcome, old_filled, old_resting, facts.side, field(facts.price), field(level),
    field(seq), new_exceeds, old_exceeds, clamped}, ' '))
end
