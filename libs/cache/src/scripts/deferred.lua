-- Writes to shared sets and hashes that no later operation of the same script reads (canceled
-- sets, expiry set, level lastUpdated and emptied levels) are collected per key and flushed
-- as one command per key at the end of the script: the last write per (key, member) wins, so
-- the final state is exactly what applying them one by one would give, at a fraction of the
-- redis.call count. Still inside the one atomic script: no reader sees the difference.

local FLUSH_CHUNK = 1000 -- members per command (Lua's unpack limit is ~8000 values)

-- kind: 'z' (sorted set; value = score) or 'h' (hash; value = field value). value nil: delete.
-- A pending value of `true` (set by change_level) means: nothing to write for this member.
local function defer(ctx, kind, key, member, value)
  local pending = ctx.deferred[key]
  if not pending then
    pending = {kind = kind, members = {}, values = {}}
    ctx.deferred[key] = pending
    ctx.deferred_order[#ctx.deferred_order + 1] = key
  end
  if pending.values[member] == nil then pending.members[#pending.members + 1] = member end
  if value == nil then pending.values[member] = false else pending.values[member] = value end
end

local function call_chunked(command, key, items, per_item)
  local step = FLUSH_CHUNK * per_item
  for from = 1, #items, step do
    local to = math.min(from + step - 1, #items)
    redis.call(command, key, unpack(items, from, to))
  end
end

local function flush_deferred(ctx)
  for _, key in ipairs(ctx.deferred_order) do
    local pending = ctx.deferred[key]
    local sets, deletes = {}, {}
    for _, member in ipairs(pending.members) do
      local value = pending.values[member]
      if value == true then
        -- a cancelled removal: the member already holds its final value
      elseif value == false then
        deletes[#deletes + 1] = member
      elseif pending.kind == 'z' then
        sets[#sets + 1] = value
        sets[#sets + 1] = member
      else
        sets[#sets + 1] = member
        sets[#sets + 1] = value
      end
    end
    if #deletes > 0 then call_chunked(pending.kind == 'z' and 'ZREM' or 'HDEL', key, deletes, 1) end
    if #sets > 0 then call_chunked(pending.kind == 'z' and 'ZADD' or 'HSET', key, sets, 2) end
  end
end
