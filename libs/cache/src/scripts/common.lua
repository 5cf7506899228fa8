-- Helpers shared by the order-book scripts (prepended to each script's body).
--
-- Quantities are unsigned 64-bit integers in the protocol, but Lua 5.1 numbers are doubles, exact
-- only below 2^53. So integers travel as decimal strings and arithmetic uses two limbs
-- {hi, lo} with lo < 10^9: exact for every u64.

local LIMB = 1000000000
local EXACT = 9007199254740992 -- 2^53

local function big(text)
  local n = #text
  if n <= 9 then return {0, tonumber(text)} end
  return {tonumber(string.sub(text, 1, n - 9)), tonumber(string.sub(text, n - 8))}
end

local function big_cmp(a, b)
  if a[1] ~= b[1] then return a[1] < b[1] and -1 or 1 end
  if a[2] ~= b[2] then return a[2] < b[2] and -1 or 1 end
  return 0
end

-- a - b for a >= b.
local function big_sub(a, b)
  local hi, lo = a[1] - b[1], a[2] - b[2]
  if lo < 0 then lo = lo + LIMB; hi = hi - 1 end
  return {hi, lo}
end

local function big_is_zero(a)
  return a[1] == 0 and a[2] == 0
end

local function big_str(a)
  if a[1] == 0 then return string.format('%.0f', a[2]) end
  return string.format('%.0f%09.0f', a[1], a[2])
end

local function int_str(x)
  return string.format('%.0f', x)
end

-- A quantity is a plain Lua number below 10^15 (exact: < 2^53), the common case, and two limbs
-- beyond; the limb arithmetic (a table per value) costs several times the number path.
local SMALL_DIGITS = 15
local SMALL_LIMIT = 1e15

local function qty(text)
  if #text <= SMALL_DIGITS then return tonumber(text) end
  return big(text)
end

local function as_big(q)
  if type(q) == 'number' then
    local hi = math.floor(q / LIMB)
    return {hi, q - hi * LIMB}
  end
  return q
end

local function q_cmp(a, b)
  if type(a) == 'number' and type(b) == 'number' then
    if a == b then return 0 end
    return a < b and -1 or 1
  end
  return big_cmp(as_big(a), as_big(b))
end

-- a - b for a >= b.
local function q_sub(a, b)
  if type(a) == 'number' and type(b) == 'number' then return a - b end
  return big_sub(as_big(a), as_big(b))
end

local function q_is_zero(q)
  if type(q) == 'number' then return q == 0 end
  return big_is_zero(q)
end

local function q_str(q)
  if type(q) == 'number' then return int_str(q) end
  return big_str(q)
end

-- from - to as an HINCRBY argument: a number on the small path (Redis formats integral numbers
-- exactly), a signed decimal string beyond.
local function q_delta(from, to)
  if type(from) == 'number' and type(to) == 'number' then return from - to end
  if q_cmp(from, to) >= 0 then return big_str(q_sub(from, to)) end
  return '-' .. big_str(q_sub(to, from))
end

-- Protobuf varints. Small fields (enums, lengths, tags) as numbers; quantums exactly as limbs.
local function varint(s, i)
  local value, scale = 0, 1
  while true do
    local b = string.byte(s, i)
    i = i + 1
    value = value + (b % 128) * scale
    if b < 128 then return value, i end
    scale = scale * 128
  end
end

local function varint_big(s, i)
  local groups = {}
  while true do
    local b = string.byte(s, i)
    i = i + 1
    groups[#groups + 1] = b % 128
    if b < 128 then break end
  end
  local hi, lo = 0, 0
  for j = #groups, 1, -1 do
    lo = lo * 128 + groups[j]
    local carry = math.floor(lo / LIMB)
    lo = lo - carry * LIMB
    hi = hi * 128 + carry
  end
  return {hi, lo}, i
end

local function skip_field(s, i, wire)
  if wire == 0 then
    local _
    _, i = varint(s, i)
    return i
  elseif wire == 2 then
    local len
    len, i = varint(s, i)
    return i + len
  elseif wire == 5 then
    return i + 4
  elseif wire == 1 then
    return i + 8
  end
  return error('unsupported protobuf wire type ' .. wire)
end

-- What the book needs from a stored RedisOrder: IndexerOrder.side (2), .quantums (3),
-- .time_in_force (7) inside field 2, and the human price (field 5), the level's hash field.
local function book_facts(blob)
  local facts = {side = 0, quantums = {0, 0}, tif = 0, price = ''} -- quantums: limbs, then a quantity
  local i, n = 1, #blob
  while i <= n do
    local tag
    tag, i = varint(blob, i)
    local field, wire = math.floor(tag / 8), tag % 8
    if field == 2 and wire == 2 then
      local len
      len, i = varint(blob, i)
      local stop = i + len
      while i < stop do
        local inner
        inner, i = varint(blob, i)
        local f, w = math.floor(inner / 8), inner % 8
        if f == 2 and w == 0 then
          facts.side, i = varint(blob, i)
        elseif f == 3 and w == 0 then
          facts.quantums, i = varint_big(blob, i)
        elseif f == 7 and w == 0 then
          facts.tif, i = varint(blob, i)
        else
          i = skip_field(blob, i, w)
        end
      end
      i = stop
    elseif field == 5 and wire == 2 then
      local len
      len, i = varint(blob, i)
      facts.price = string.sub(blob, i, i + len - 1)
      i = i + len
    else
      i = skip_field(blob, i, wire)
    end
  end
  if facts.quantums[1] < SMALL_LIMIT / LIMB then
    facts.quantums = facts.quantums[1] * LIMB + facts.quantums[2]
  end
  return facts
end

-- The same facts from the compact companion string written at placement
-- (`<side><immediate><quantums>:<price>`), falling back to decoding the order (an order stored
-- by another writer has no companion).
local function stored_facts(facts_text, blob)
  if facts_text then
    local side, immediate, quantums, price = string.match(facts_text, '^(%d)(%d)(%d+):(.*)$')
    if side then
      return {side = tonumber(side), tif = immediate == '1' and 1 or 0, quantums = qty(quantums), price = price}
    end
  end
  return book_facts(blob)
end

-- IOC (1) and fill-or-kill (3) orders never rest on the book.
local function is_immediate(facts)
  return facts.tif == 1 or facts.tif == 3
end

-- Results travel as a flat array of strings: one space-separated record per operation ('-' for
-- an empty field), followed by one raw element when the record says so (an encoded order or
-- cached update). Redis converts a nested reply table with several lookups per table, which cost
-- more than the whole operation; flat strings are copied.
local function emit(ctx, record, blob)
  local n = ctx.out_n + 1
  ctx.out[n] = record
  if blob then
    n = n + 1
    ctx.out[n] = blob
  end
  ctx.out_n = n
end

local function field(text)
  if not text or text == '' then return '-' end
  return text
end

-- `<expiry>_<totalFilled>_<resting>`; a missing value reads as never filled, not resting.
local function parse_order_data(data)
  if not data then return '0', '0', 'false' end
  local expiry, filled, resting = string.match(data, '^(.-)_(%d+)_(%a+)$')
  if not expiry then return '0', '0', 'false' end
  return expiry, filled, resting
end
