-- Price levels, their lastUpdated companions and the per-market order-book sequence.
--
-- ctx.groups[g] holds the keys of one market (levels and lastUpdated per side, seq). The seq of a
-- market is read once per script call, advanced in Lua for every level message, and written
-- back at the end (flush_seqs), all inside the same atomic script.

local function side_keys(group, side)
  if side == 1 then return group.buy, group.buy_last end
  return group.sell, group.sell_last
end

local function next_seq(ctx, g)
  local current = ctx.seqs[g]
  if current == nil then
    current = tonumber(redis.call('GET', ctx.groups[g].seq) or '0')
  end
  current = current + 1
  ctx.seqs[g] = current
  return int_str(current)
end

local function flush_seqs(ctx)
  for g, value in pairs(ctx.seqs) do
    redis.call('SET', ctx.groups[g].seq, int_str(value))
  end
end

-- Adds `delta` (a signed decimal string) to the level at `price`. A level never goes below zero
-- (a negative result is clamped, reported, and treated as empty) and an empty level is removed
-- from both hashes. Returns the new level size as a decimal string and the clamped flag.
-- The size changes at once (later operations of the batch read it); the lastUpdated write and
-- the removal of an emptied level are deferred to the end of the script (one command per hash).
local function change_level(ctx, group, side, price, delta)
  local levels, last = side_keys(group, side)
  local value = redis.call('HINCRBY', levels, price, delta)
  local clamped = 0
  if value < 0 then
    clamped = 1
    value = 0
    redis.call('HDEL', levels, price)
  end
  if value == 0 then
    defer(ctx, 'h', levels, price, nil)
    defer(ctx, 'h', last, price, nil)
    return '0', clamped
  end
  local size
  if value < EXACT then size = int_str(value) else size = redis.call('HGET', levels, price) end
  -- Emptied earlier in this batch and refilled since: the pending removal must not run. It is
  -- cancelled rather than replaced by a write of today's size, which later operations of the
  -- batch would make stale (HINCRBY keeps the hash exact).
  local pending = ctx.deferred[levels]
  if pending and pending.values[price] == false then pending.values[price] = true end
  defer(ctx, 'h', last, price, ctx.now_s)
  return size, clamped
end

local function level_size(group, side, price)
  local levels = side_keys(group, side)
  return redis.call('HGET', levels, price) or '0'
end
