-- GraphQL over HTTP for wrk: rotating Bearer tokens, persisted queries, per-kind results.
--
--   wrk -tT -cC -d10s -s bench/wrk/graphql.lua http://127.0.0.1:PORT -- CONFIG.lua
--
-- CONFIG.lua (written by bench/load.py) returns a table: the request bodies of
-- each operation, the tokens (read from that file), the ids deletePost may use,
-- the program (which operation comes next) and where to write the results.
-- The harness runs as many threads as the machine has cores, each with several
-- connections (docs/adr/0012): wrk does not say which connection an answer came
-- on, so this script keeps as little per request as it can.
--
-- Programs:
--   rotate    one operation, the thread's tokens in turn. Nothing is kept per
--             request: the answers are counted, and wrk's own histogram gives
--             the latency.
--   cycle     a fixed sequence per token, e.g. addPost, getPosts, deletePost, getPosts
--   weighted  a random operation by weight
-- cycle and weighted keep one request in flight per token, so that each token's
-- sequence is exact (a getPosts follows its user's write; a delete takes an id
-- that token's addPost returned): each request carries an X-Request-ID, which
-- the app echoes, and the answer's id finds the request it belongs to.
-- deletePost takes its ids from a pre-seeded pool per token ("pool": each id used
-- once, never by two threads) or from the posts that token added ("captured").
--
-- A response counts as an error when its status is not 2xx or its body has
-- "errors" (other than PERSISTED_QUERY_NOT_FOUND, which makes the next request of
-- that operation carry the document too, as Apollo Client does).
--
-- Results: done() writes {"duration_us", "requests", ..., "threads": [...]} to the
-- config's "out" file, one JSON object per thread (bench/load.py merges them), with
-- when the thread sent its first request and when each answer came (the clock is
-- the system's monotonic one, the same in every thread): the harness counts
-- requests per second over the time every connection was sending.
-- Only strings cross from a thread's Lua state to the main one: wrk 4.1's
-- thread:get() corrupts the thread's stack when it copies a table, so each thread
-- answers thread:get("results") with its results already encoded (an __index
-- on its globals builds them on demand).

local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
]])
local CLOCK_MONOTONIC = 1
local timespec = ffi.new("bench_timespec")

local function now_us()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, timespec)
  return tonumber(timespec.tv_sec) * 1000000 + tonumber(timespec.tv_nsec) / 1000
end

-- Main state: one handle per thread, for done().
local handles = {}

function setup(thread)
  handles[#handles + 1] = thread
  thread:set("thread_index", #handles)
end

-- Thread state.
local cfg
local tracked = false   -- cycle and weighted: one request in flight per token
local slots = {}        -- the global token indexes this thread uses
local slot_pos = 0
local ready = {}        -- tracked: tokens with no request in flight, oldest first
local steps = {}        -- tracked (cycle): per token, the next step
local heavy_pos = 0
local rotations = {}    -- per operation: position in its bodies
local captured = {}     -- per token index: ids this token added
local pools = {}        -- per token index: pre-seeded ids not used yet
local must_register = {}
local inflight = {}     -- tracked: request id -> {op, slot, capture, started}
local sent = 0
local weights_total = 0
local stats = {}        -- per operation: counters, error codes, latencies
local samples = {}      -- the first failed answers
local exhausted = 0
local fallbacks = 0
local overlaps = 0      -- tracked: a request sent while every token had one in flight
local unmatched = 0     -- tracked: an answer without the request id the app echoes
local apq_registrations = 0
local first_us = nil    -- when this thread sent its first request

local function stat(op)
  local s = stats[op]
  if s == nil then
    s = { n = 0, failed = 0, non2xx = 0, errors = 0, apq_misses = 0, codes = {}, lat = {}, done = {} }
    stats[op] = s
  end
  return s
end

function init(args)
  cfg = dofile(args[1])
  local index = thread_index
  local threads = cfg.threads
  local tokens = cfg.tokens or {}
  if #tokens >= threads then
    for k = index, #tokens, threads do
      slots[#slots + 1] = k
    end
  elseif #tokens > 0 then
    slots[1] = ((index - 1) % #tokens) + 1
  end
  for _, k in ipairs(slots) do
    captured[k] = {}
    local pool = cfg.pools and cfg.pools[k]
    if pool then
      pools[k] = { ids = pool, next = 1 }
    end
  end
  tracked = cfg.program ~= "rotate"
  for _, k in ipairs(slots) do
    ready[#ready + 1] = k
    steps[k] = 0
  end
  heavy_pos = index
  for op, _ in pairs(cfg.ops) do
    rotations[op] = index
    stat(op)
  end
  if cfg.weights then
    for _, pair in ipairs(cfg.weights) do
      weights_total = weights_total + pair[2]
    end
  end
  math.randomseed(cfg.seed + index * 7919)
end

local function next_slot()
  slot_pos = (slot_pos % #slots) + 1
  return slots[slot_pos]
end

local function rotate(list, op)
  local position = rotations[op] % #list + 1
  rotations[op] = position
  return list[position]
end

local function take_id(spec, slot)
  if spec.ids == "pool" then
    local pool = pools[slot]
    if pool == nil or pool.next > #pool.ids then
      return nil
    end
    local id = pool.ids[pool.next]
    pool.next = pool.next + 1
    return id
  end
  local queue = captured[slot]
  if queue == nil or #queue == 0 then
    return nil
  end
  return table.remove(queue, 1)
end

local function build(op, slot)
  local spec = cfg.ops[op]
  local body
  if spec.ids then
    local id = take_id(spec, slot)
    if id == nil then
      if spec.ids == "pool" then
        -- Out of pre-seeded ids: the case is reported as invalid (never reuse an id).
        exhausted = exhausted + 1
        id = "exhausted"
      else
        fallbacks = fallbacks + 1
        return build(spec.fallback, slot)
      end
    end
    body = spec.id_prefix .. id .. spec.id_suffix
  elseif spec.bodies then
    body = rotate(spec.bodies, op)
  elseif spec.apq and not must_register[op] then
    body = spec.hash_body
  elseif spec.apq then
    must_register[op] = false
    apq_registrations = apq_registrations + 1
    body = spec.full_body
  else
    body = spec.body
  end
  local headers = { ["Content-Type"] = "application/json", ["Accept"] = "application/json" }
  if spec.auth == "own" then
    headers["Authorization"] = "Bearer " .. cfg.tokens[slot]
  elseif spec.auth == "heavy" then
    heavy_pos = heavy_pos % #cfg.heavy_tokens + 1
    headers["Authorization"] = "Bearer " .. cfg.heavy_tokens[heavy_pos]
  end
  if tracked then
    sent = sent + 1
    local id = thread_index .. "-" .. sent
    headers["X-Request-ID"] = id
    inflight[id] = { op = op, slot = slot, capture = spec.capture, started = now_us() }
  end
  return wrk.format("POST", cfg.path, headers, body)
end

-- Tracked programs: a token with no request in flight (the oldest such).
local function take_ready()
  if #ready > 0 then
    return table.remove(ready, 1)
  end
  overlaps = overlaps + 1
  return next_slot()
end

local function weighted_op()
  local pick = math.random() * weights_total
  for _, pair in ipairs(cfg.weights) do
    pick = pick - pair[2]
    if pick <= 0 then
      return pair[1]
    end
  end
  return cfg.weights[#cfg.weights][1]
end

local function choose()
  if not tracked then
    return cfg.op, next_slot()
  end
  local slot = take_ready()
  if cfg.program == "cycle" then
    local step = steps[slot] % #cfg.steps + 1
    steps[slot] = step
    return cfg.steps[step], slot
  end
  return weighted_op(), slot
end

function request()
  local op, slot = choose()
  first_us = first_us or now_us()
  return build(op, slot)
end

local function sample(op, status, body)
  if #samples < 3 then
    -- ASCII only: a cut must not split a UTF-8 character.
    local text = string.gsub(string.sub(body, 1, 300), "[\128-\255]", "?")
    samples[#samples + 1] = op .. " " .. status .. " " .. text
  end
end

function response(status, headers, body)
  local done = now_us()
  local op, record = cfg.op, nil
  if tracked then
    local id = headers["X-Request-ID"] or headers["x-request-id"]
    record = id and inflight[id]
    if record == nil then
      unmatched = unmatched + 1
      return
    end
    inflight[id] = nil
    op = record.op
    ready[#ready + 1] = record.slot
  end
  local s = stat(op)
  s.n = s.n + 1
  s.done[#s.done + 1] = done
  if record then
    s.lat[#s.lat + 1] = done - record.started
  end
  local failed = false
  if status < 200 or status > 299 then
    s.non2xx = s.non2xx + 1
    failed = true
  end
  if string.find(body, '"errors"', 1, true) then
    local code = string.match(body, '"code"%s*:%s*"([%w_]+)"') or "NO_CODE"
    if code == "PERSISTED_QUERY_NOT_FOUND" then
      s.apq_misses = s.apq_misses + 1
      must_register[op] = true
    else
      s.errors = s.errors + 1
      s.codes[code] = (s.codes[code] or 0) + 1
      failed = true
    end
  end
  if failed then
    s.failed = s.failed + 1
    sample(op, status, body)
  elseif record and record.capture then
    local id = string.match(body, '"postId"%s*:%s*"([^"]+)"')
    if id then
      local queue = captured[record.slot]
      queue[#queue + 1] = id
    end
  end
end

-- ------------------------------------------------------------------ results as JSON

local function json_string(value)
  local escaped = string.gsub(value, '[%c"\\]', function(char)
    return string.format("\\u%04x", string.byte(char))
  end)
  return '"' .. escaped .. '"'
end

local function json_numbers(list)
  local parts = {}
  for i, number in ipairs(list) do
    parts[i] = string.format("%.1f", number)
  end
  return "[" .. table.concat(parts, ",") .. "]"
end

local function json_counts(map)
  local parts = {}
  for key, count in pairs(map) do
    parts[#parts + 1] = json_string(key) .. ":" .. count
  end
  return "{" .. table.concat(parts, ",") .. "}"
end

-- This thread's results as one JSON object.
local function results()
  local kinds = {}
  for op, k in pairs(stats) do
    kinds[#kinds + 1] = json_string(op)
      .. string.format(
        ':{"n":%d,"failed":%d,"non2xx":%d,"errors":%d,"apq_misses":%d,"codes":%s,"latency_us":%s,"done_us":%s}',
        k.n, k.failed, k.non2xx, k.errors, k.apq_misses, json_counts(k.codes), json_numbers(k.lat),
        json_numbers(k.done)
      )
  end
  local texts = {}
  for i, text in ipairs(samples) do
    texts[i] = json_string(text)
  end
  return string.format(
    '{"exhausted":%d,"fallbacks":%d,"overlaps":%d,"unmatched":%d,"apq_registrations":%d,'
      .. '"first_us":%.1f,"samples":[%s],"kinds":{%s}}',
    exhausted, fallbacks, overlaps, unmatched, apq_registrations, first_us or -1,
    table.concat(texts, ","),
    table.concat(kinds, ",")
  )
end

-- thread:get("results") and thread:get("out_path") from the main state: strings only.
setmetatable(_G, {
  __index = function(_, key)
    if key == "results" and cfg then
      return results()
    elseif key == "out_path" and cfg then
      return cfg.out
    end
    return nil
  end,
})

function done(summary, latency, requests)
  local threads = {}
  local path
  for i, thread in ipairs(handles) do
    path = path or thread:get("out_path")
    threads[i] = thread:get("results") or "null"
  end
  local e = summary.errors
  local out = string.format(
    '{"duration_us":%d,"requests":%d,"bytes":%d,'
      .. '"socket_errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
      .. '"latency_us":{"min":%.1f,"mean":%.1f,"max":%.1f,"p50":%.1f,"p90":%.1f,"p99":%.1f},'
      .. '"threads":[%s]}',
    summary.duration, summary.requests, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    table.concat(threads, ",")
  )
  local file = assert(io.open(path, "w"))
  file:write(out)
  file:close()
end
