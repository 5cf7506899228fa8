-- Applies a batch of order operations in order, atomically (one script call: no reader sees a
-- partial update, and each operation sees the effects of the ones before it).
-- KEYS: 1 stream epoch, 2 cancelled orders, 3 best-effort cancelled orders, 4 order expiry,
--       5 stateful order update ids, 6 stateful order updates,
--       then 5 keys per market group (BUY levels, BUY lastUpdated, SELL levels, SELL lastUpdated,
--       order-book seq), then each operation's keys (P 4, U 3, R 5, X 5 + 4).
-- ARGV: now ms, epoch candidate (stored if no epoch exists), market group count, op count, then
--       per operation its type letter and arguments (P 6, U 5, R 5, X 5 + 6).
-- Returns {epoch, then each operation's record (and raw element), see common.lua `emit`}.
local KEY_COUNT = {P = 4, U = 3, R = 5, X = 9}
local ARG_COUNT = {P = 6, U = 5, R = 5, X = 11}

local now_ms = ARGV[1]
local ctx = {
  now_ms = now_ms,
  now_s = redis.call('TIME')[1],
  epoch_key = KEYS[1], cancelled_key = KEYS[2], best_effort_key = KEYS[3], expiry_key = KEYS[4],
  update_ids_key = KEYS[5], updates_key = KEYS[6],
  groups = {}, seqs = {}, purged = {}, deferred = {}, deferred_order = {}, out = {}, out_n = 1,
}
local epoch = redis.call('GET', ctx.epoch_key)
if not epoch then
  epoch = ARGV[2]
  redis.call('SET', ctx.epoch_key, epoch)
end

local group_count, op_count = tonumber(ARGV[3]), tonumber(ARGV[4])
local k = 7
for g = 1, group_count do
  ctx.groups[g] = {buy = KEYS[k], buy_last = KEYS[k + 1], sell = KEYS[k + 2], sell_last = KEYS[k + 3], seq = KEYS[k + 4]}
  k = k + 5
end

ctx.out[1] = epoch
local a = 5
for op = 1, op_count do
  local kind = ARGV[a]
  -- This operation's keys start after KEYS[kb], its arguments after ARGV[a] (its type letter).
  local kb = k - 1
  if kind == 'P' then
    place_order(ctx, kb, a)
  elseif kind == 'U' then
    update_order(ctx, kb, a)
  elseif kind == 'R' then
    remove_order(ctx, kb, a)
  elseif kind == 'X' then
    -- Replace: the old order leaves the book, then the new one is placed, in one step (two
    -- records: the removal's, then the placement's).
    remove_order(ctx, kb, a)
    place_order(ctx, kb + KEY_COUNT.R, a + ARG_COUNT.R)
  else
    return redis.error_reply('unknown order operation ' .. tostring(kind))
  end
  k = k + KEY_COUNT[kind]
  a = a + 1 + ARG_COUNT[kind]
end
flush_seqs(ctx)
flush_deferred(ctx)
return ctx.out
