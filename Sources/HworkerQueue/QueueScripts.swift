// The Lua scripts that move jobs between the keys of a queue.
//
// Every change that touches more than one key runs as one of these scripts,
// so a crash of any process between two steps cannot lose or duplicate a job.
// Times come from Redis (`TIME`), never from the clocks of the hosts.

/// The Lua sources of the queue's atomic operations.
enum QueueScripts {
    /// Milliseconds since the epoch on the Redis server's clock.
    static let now = """
        local function now_ms()
          local t = redis.call('TIME')
          return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        end

        """

    /// Refuses to run a script when one of its keys holds the wrong type: Redis
    /// does not roll back a script that fails half-way, so every script checks
    /// all its keys before its first write. `expect` takes the types of KEYS in
    /// order (`-` skips one) and returns an error reply, or nil.
    static let typeGuard = """
        local function expect(...)
          local types = {...}
          for i, wanted in ipairs(types) do
            if wanted ~= '-' then
              local got = redis.call('TYPE', KEYS[i])['ok']
              if got ~= 'none' and got ~= wanted then
                return redis.error_reply('WRONGTYPE ' .. KEYS[i] .. ' holds a ' .. got ..
                  ', not a ' .. wanted .. '; nothing was changed')
              end
            end
          end
          return nil
        end

        """

    /// Registers a worker, starts its heartbeat and returns to the queue any
    /// job left in its in-flight list by a previous process of the same id, whose
    /// mark it also clears.
    /// KEYS: workers, heartbeat, in-flight, queue, mark. ARGV: worker id, heartbeat ttl ms.
    static let register =
        typeGuard + """
            local refused = expect('set', 'string', 'list', 'list', 'string')
            if refused then return refused end
            redis.call('DEL', KEYS[5])
            redis.call('SADD', KEYS[1], ARGV[1])
            redis.call('SET', KEYS[2], '1', 'PX', ARGV[2])
            local moved = 0
            while redis.call('LMOVE', KEYS[3], KEYS[4], 'RIGHT', 'RIGHT') do moved = moved + 1 end
            return moved
            """

    /// Unregisters a worker after returning anything still in flight to the queue.
    /// KEYS: workers, heartbeat, in-flight, queue, mark. ARGV: worker id.
    static let unregister =
        typeGuard + """
            local refused = expect('set', 'string', 'list', 'list', 'string')
            if refused then return refused end
            local moved = 0
            while redis.call('LMOVE', KEYS[3], KEYS[4], 'RIGHT', 'RIGHT') do moved = moved + 1 end
            redis.call('DEL', KEYS[2], KEYS[5])
            redis.call('SREM', KEYS[1], ARGV[1])
            return moved
            """

    /// Returns the jobs of every worker whose heartbeat expired to the queue.
    /// KEYS: workers, queue, stats. ARGV: key prefix.
    /// Returns the number of jobs moved.
    static let recover =
        typeGuard + """
            local refused = expect('set', 'list', 'hash')
            if refused then return refused end
            local moved = 0
            for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
              local inflight = ARGV[1] .. 'inflight:' .. id
              local kind = redis.call('TYPE', inflight)['ok']
              -- A worker whose in-flight key is not a list is left alone; the
              -- others are still recovered.
              if redis.call('EXISTS', ARGV[1] .. 'hb:' .. id) == 0
                and (kind == 'list' or kind == 'none') then
                while redis.call('LMOVE', inflight, KEYS[2], 'RIGHT', 'RIGHT') do
                  moved = moved + 1
                end
                redis.call('SREM', KEYS[1], id)
              end
            end
            if moved > 0 then redis.call('HINCRBY', KEYS[3], 'recovered', moved) end
            return moved
            """

    /// Moves delayed jobs that are due to the front of the queue.
    /// KEYS: delayed, queue. ARGV: at most this many jobs.
    /// Returns {moved, ms until the next delayed job is due or -1}.
    static let promote =
        now + typeGuard + """
            local refused = expect('zset', 'list')
            if refused then return refused end
            local t = now_ms()
            local due = redis.call(
              'ZRANGEBYSCORE', KEYS[1], '-inf', t, 'LIMIT', 0, tonumber(ARGV[1]))
            for _, member in ipairs(due) do
              redis.call('ZREM', KEYS[1], member)
              -- Members carry a 17-byte unique prefix so that equal jobs stay distinct.
              redis.call('RPUSH', KEYS[2], string.sub(member, 18))
            end
            local next = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
            if next[2] == nil then return {#due, -1} end
            return {#due, math.max(0, tonumber(next[2]) - t)}
            """

    /// Acknowledges a batch of sent jobs and takes the next batch, in one round trip:
    /// removes the jobs from the in-flight list, records their SES message ids and
    /// publishes `sent` events, then moves up to `take` queued jobs into the
    /// in-flight list.
    ///
    /// A worker ends its jobs in the order it took them, so its sent jobs are the
    /// oldest, rightmost entries of its in-flight list. When the list holds exactly
    /// as many jobs as the worker believes (`expected`), nobody else touched it and
    /// they are trimmed off by count; otherwise (a monitor returned the jobs) the
    /// script changes nothing and answers `recheck`, and the worker calls again with
    /// the jobs' bytes, which are then removed one by one (from the queue when a
    /// monitor put them back there, so that they are not sent twice).
    ///
    /// A call whose answer was lost (a timeout, a broken connection, a Redis restart)
    /// is repeated by the worker with the same token; the worker's mark key tells the
    /// repetition that it already ran, and it answers the jobs the first run took,
    /// the newest entries of the in-flight list, without touching anything.
    /// KEYS: in-flight, attempts, stats, events, queue, the worker's mark.
    /// ARGV: sent job count n, result ttl s, events max length, key prefix, jobs to take,
    /// expected in-flight length (or -1 with the jobs' bytes), token, then 7 values per
    /// sent job: job bytes (or empty), job id, message id, payload, recipients, elapsed
    /// ms, send start (µs since the epoch, worker's clock).
    /// Returns `recheck`, or the taken jobs, each followed by 1 if its result is
    /// recorded, 0 if not, -1 if its id is unknown here.
    static let acknowledge =
        now + typeGuard + """
            local refused = expect('list', 'hash', 'hash', 'stream', 'list', 'string')
            if refused then return refused end
            local prefix = ARGV[4]
            -- This library writes the id first; other producers' jobs are decoded.
            local function job_id(job)
              local id = string.match(job, '^{"id":"([^"\\\\]+)"')
              if id then return id end
              local ok, decoded = pcall(cjson.decode, job)
              if ok and type(decoded) == 'table' and type(decoded.id) == 'string' then
                return decoded.id
              end
              return nil
            end
            -- Each taken job, oldest first, with whether its result is recorded; one
            -- EXISTS for them all, and one by one only when some result is recorded.
            local function answer(jobs)
              local taken, keys = {}, {}
              for i = #jobs, 1, -1 do
                local id = job_id(jobs[i])
                taken[#taken + 1] = jobs[i]
                taken[#taken + 1] = id and 0 or -1
                if id then keys[#keys + 1] = prefix .. 'result:' .. id end
              end
              if #keys > 0 and redis.call('EXISTS', unpack(keys)) > 0 then
                for i = 2, #taken, 2 do
                  local id = job_id(taken[i - 1])
                  if id then taken[i] = redis.call('EXISTS', prefix .. 'result:' .. id) end
                end
              end
              return taken
            end
            local mark = redis.call('GET', KEYS[6])
            if mark then
              local token, count = string.match(mark, '^ack:([^:]+):(%d+)$')
              if token == ARGV[7] then
                if tonumber(count) == 0 then return {} end
                return answer(redis.call('LRANGE', KEYS[1], 0, tonumber(count) - 1))
              end
            end
            local n = tonumber(ARGV[1])
            local expected = tonumber(ARGV[6])
            if expected >= 0 then
              if redis.call('LLEN', KEYS[1]) ~= expected then return 'recheck' end
              if n > 0 then redis.call('LTRIM', KEYS[1], 0, -n - 1) end
            end
            local t = now_ms()
            local ids = {}
            for i = 0, n - 1 do
              local id, message = ARGV[9 + i * 7], ARGV[10 + i * 7]
              if expected < 0 and redis.call('LREM', KEYS[1], -1, ARGV[8 + i * 7]) == 0 then
                redis.call('LREM', KEYS[5], -1, ARGV[8 + i * 7])
              end
              ids[i + 1] = id
              redis.call('SET', prefix .. 'result:' .. id,
                cjson.encode({message_id = message, sent_at = t}), 'EX', ARGV[2])
              redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[3], '*', 'event', 'sent', 'job', id,
                'message_id', message, 'payload', ARGV[11 + i * 7], 'recipients', ARGV[12 + i * 7],
                'elapsed_ms', ARGV[13 + i * 7], 'started_us', ARGV[14 + i * 7])
            end
            if n > 0 then
              redis.call('HDEL', KEYS[2], unpack(ids))
              redis.call('HINCRBY', KEYS[3], 'sent', n)
            end
            -- Taking the next jobs here saves the worker a round trip on a busy queue.
            local take = tonumber(ARGV[5])
            local jobs = {}
            if take > 0 then jobs = redis.call('LRANGE', KEYS[5], -take, -1) end
            if #jobs > 0 then
              redis.call('LTRIM', KEYS[5], 0, -#jobs - 1)
              -- The oldest job is rightmost in both lists, so it goes in first.
              local reversed = {}
              for i = #jobs, 1, -1 do reversed[#reversed + 1] = jobs[i] end
              redis.call('LPUSH', KEYS[1], unpack(reversed))
            end
            redis.call('SET', KEYS[6], 'ack:' .. ARGV[7] .. ':' .. #jobs, 'EX', 86400)
            return answer(jobs)
            """

    /// Reserves recipients in the cluster-wide rate (GCRA on Redis's clock),
    /// shared by every master of the queue.
    /// KEYS: the limiter's key. ARGV: emission interval µs, burst tolerance µs,
    /// recipients. Returns the µs to wait before sending.
    static let clusterReserve = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
        local interval = tonumber(ARGV[1])
        local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
        local start = math.max(now, tat - tonumber(ARGV[2]))
        local after = math.max(tat, start) + interval * tonumber(ARGV[3])
        redis.call('SET', KEYS[1], string.format('%d', after), 'PX',
          math.floor((after - now) / 1000) + 1000)
        return start - now
        """

    /// Drops a job that was already sent (its result is recorded), as happens
    /// when a worker died between SES's answer and its acknowledgement reached
    /// Redis and the job came back.
    /// KEYS: in-flight, stats. ARGV: job bytes.
    static let dropDuplicate =
        typeGuard + """
            local refused = expect('list', 'hash')
            if refused then return refused end
            redis.call('LREM', KEYS[1], -1, ARGV[1])
            redis.call('HINCRBY', KEYS[2], 'duplicates_skipped', 1)
            return 1
            """

    /// Ends an attempt that did not send: retries the job later or moves it
    /// to the dead letters. A repetition with the same token (the answer was lost)
    /// finds the worker's mark and answers what the first run did; a job a monitor
    /// gave back to the queue meanwhile is taken out of it again.
    /// KEYS: in-flight, attempts, delayed, dead, stats, events, the worker's mark, queue.
    /// ARGV: job bytes, job id, mode (`retry`, `throttle` or `dead`), max
    /// attempts, base delay ms, max delay ms, jitter in [0,1), throttle delay
    /// ms, reason, SES code, events max length, payload, unique member prefix
    /// (17 bytes), job field name for the dead letter (`job` or `job_base64`),
    /// job text for the dead letter, token.
    /// Returns {outcome, attempts, delay ms}.
    static let fail =
        now + typeGuard + """
            local refused = expect(
              'list', 'hash', 'zset', 'list', 'hash', 'stream', 'string', 'list')
            if refused then return refused end
            local mark = redis.call('GET', KEYS[7])
            if mark then
              local token, outcome, attempts, delay =
                string.match(mark, '^fail:([^:]+):(%a+):(%d+):(%d+)$')
              if token == ARGV[16] then return {outcome, tonumber(attempts), tonumber(delay)} end
            end
            local function done(outcome, attempts, delay)
              redis.call('SET', KEYS[7], 'fail:' .. ARGV[16] .. ':' .. outcome .. ':' .. attempts ..
                ':' .. delay, 'EX', 86400)
              return {outcome, attempts, delay}
            end
            local t = now_ms()
            if redis.call('LREM', KEYS[1], -1, ARGV[1]) == 0 then
              redis.call('LREM', KEYS[8], -1, ARGV[1])
            end
            local mode = ARGV[3]
            local attempts = tonumber(redis.call('HGET', KEYS[2], ARGV[2]) or '0')
            if mode == 'retry' then
              attempts = attempts + 1
              if attempts >= tonumber(ARGV[4]) then mode = 'dead' end
            elseif mode == 'dead' then
              attempts = attempts + 1
            end
            if mode == 'dead' then
              redis.call('HDEL', KEYS[2], ARGV[2])
              local letter = {id = ARGV[2], reason = ARGV[9], code = ARGV[10],
                attempts = attempts, failed_at = t}
              letter[ARGV[14]] = ARGV[15]
              redis.call('LPUSH', KEYS[4], cjson.encode(letter))
              redis.call('HINCRBY', KEYS[5], 'dead', 1)
              redis.call('XADD', KEYS[6], 'MAXLEN', '~', ARGV[11], '*',
                'event', 'dead', 'job', ARGV[2], 'reason', ARGV[9], 'code', ARGV[10],
                'payload', ARGV[12])
              return done('dead', attempts, 0)
            end
            local delay
            if mode == 'throttle' then
              delay = tonumber(ARGV[8])
            else
              redis.call('HSET', KEYS[2], ARGV[2], attempts)
              local cap = tonumber(ARGV[6])
              delay = math.min(cap, tonumber(ARGV[5]) * 2 ^ (attempts - 1))
            end
            -- Jitter spreads the retries of many jobs: half fixed, half random.
            delay = math.floor(delay / 2 + delay / 2 * tonumber(ARGV[7]))
            redis.call('ZADD', KEYS[3], t + delay, ARGV[13] .. ARGV[1])
            redis.call('HINCRBY', KEYS[5], 'retried', 1)
            redis.call('XADD', KEYS[6], 'MAXLEN', '~', ARGV[11], '*',
              'event', 'retry', 'job', ARGV[2], 'reason', ARGV[9], 'code', ARGV[10],
              'attempts', attempts, 'delay_ms', delay, 'payload', ARGV[12])
            return done('retry', attempts, delay)
            """
}
