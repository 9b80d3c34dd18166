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
    /// job left in its in-flight list by a previous process of the same id.
    /// KEYS: workers, heartbeat, in-flight, queue. ARGV: worker id, heartbeat ttl ms.
    static let register =
        typeGuard + """
            local refused = expect('set', 'string', 'list', 'list')
            if refused then return refused end
            redis.call('SADD', KEYS[1], ARGV[1])
            redis.call('SET', KEYS[2], '1', 'PX', ARGV[2])
            local moved = 0
            while redis.call('LMOVE', KEYS[3], KEYS[4], 'RIGHT', 'RIGHT') do moved = moved + 1 end
            return moved
            """

    /// Unregisters a worker after returning anything still in flight to the queue.
    /// KEYS: workers, heartbeat, in-flight, queue. ARGV: worker id.
    static let unregister =
        typeGuard + """
            local refused = expect('set', 'string', 'list', 'list')
            if refused then return refused end
            local moved = 0
            while redis.call('LMOVE', KEYS[3], KEYS[4], 'RIGHT', 'RIGHT') do moved = moved + 1 end
            redis.call('DEL', KEYS[2])
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
              if redis.call('EXISTS', ARGV[1] .. 'hb:' .. id) == 0 and (kind == 'list' or kind == 'none') then
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
            local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', t, 'LIMIT', 0, tonumber(ARGV[1]))
            for _, member in ipairs(due) do
              redis.call('ZREM', KEYS[1], member)
              -- Members carry a 17-byte unique prefix so that equal jobs stay distinct.
              redis.call('RPUSH', KEYS[2], string.sub(member, 18))
            end
            local next = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
            if next[2] == nil then return {#due, -1} end
            return {#due, math.max(0, tonumber(next[2]) - t)}
            """

    /// Acknowledges a sent job: removes it from the in-flight list, records
    /// its SES message id and publishes a `sent` event.
    /// KEYS: in-flight, attempts, result, stats, events, queue.
    /// ARGV: job bytes, job id, message id, result ttl s, events max length,
    /// payload, recipients, elapsed ms, send start (µs since the epoch, worker's clock),
    /// `1` to take the next job in the same call, the key prefix.
    /// Returns {next job or false, 1 if the next job's result is recorded, 0 if
    /// not, -1 if its id is unknown here}.
    static let acknowledge =
        now + typeGuard + """
            local refused = expect('list', 'hash', 'string', 'hash', 'stream', 'list')
            if refused then return refused end
            local t = now_ms()
            if redis.call('LREM', KEYS[1], -1, ARGV[1]) == 0 then
              -- A monitor gave the job back to the queue meanwhile: take it out
              -- again so that it is not sent twice.
              redis.call('LREM', KEYS[6], -1, ARGV[1])
            end
            redis.call('HDEL', KEYS[2], ARGV[2])
            redis.call('SET', KEYS[3], cjson.encode({message_id = ARGV[3], sent_at = t}), 'EX', ARGV[4])
            redis.call('HINCRBY', KEYS[4], 'sent', 1)
            redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[5], '*', 'event', 'sent', 'job', ARGV[2],
              'message_id', ARGV[3], 'payload', ARGV[6], 'recipients', ARGV[7], 'elapsed_ms', ARGV[8],
              'started_us', ARGV[9])
            if ARGV[10] ~= '1' then return {false, 0} end
            -- Take the next job now, saving the worker a round trip on a busy queue.
            local job = redis.call('LMOVE', KEYS[6], KEYS[1], 'RIGHT', 'LEFT')
            if not job then return {false, 0} end
            local ok, decoded = pcall(cjson.decode, job)
            if ok and type(decoded) == 'table' and type(decoded.id) == 'string' then
              return {job, redis.call('EXISTS', ARGV[11] .. 'result:' .. decoded.id)}
            end
            return {job, -1}
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
    /// to the dead letters.
    /// KEYS: in-flight, attempts, delayed, dead, stats, events.
    /// ARGV: job bytes, job id, mode (`retry`, `throttle` or `dead`), max
    /// attempts, base delay ms, max delay ms, jitter in [0,1), throttle delay
    /// ms, reason, SES code, events max length, payload, unique member prefix
    /// (17 bytes), job field name for the dead letter (`job` or `job_base64`),
    /// job text for the dead letter.
    /// Returns {outcome, attempts, delay ms}.
    static let fail =
        now + typeGuard + """
            local refused = expect('list', 'hash', 'zset', 'list', 'hash', 'stream')
            if refused then return refused end
            local t = now_ms()
            redis.call('LREM', KEYS[1], -1, ARGV[1])
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
              redis.call('XADD', KEYS[6], 'MAXLEN', '~', ARGV[11], '*', 'event', 'dead', 'job', ARGV[2],
                'reason', ARGV[9], 'code', ARGV[10], 'payload', ARGV[12])
              return {'dead', attempts, 0}
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
            redis.call('XADD', KEYS[6], 'MAXLEN', '~', ARGV[11], '*', 'event', 'retry', 'job', ARGV[2],
              'reason', ARGV[9], 'code', ARGV[10], 'attempts', attempts, 'delay_ms', delay,
              'payload', ARGV[12])
            return {'retry', attempts, delay}
            """
}
