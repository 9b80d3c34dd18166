// The Lua scripts of the operator's tools: a consistent snapshot for
// `stats`, counting recent events, pausing, and requeueing or purging dead
// letters.
//
// The snapshot and the event count only read. Requeueing a dead letter is
// one script so that the record leaves the dead letters, its job reaches the
// queue and its attempt count is reset together, or not at all. Every
// script's work is bounded (one record, one page of events, one batch of
// dead letters), so none holds Redis up for long on a large queue.

extension QueueScripts {
    /// A snapshot of the queue's keys at one instant.
    /// KEYS: queue, delayed, dead, workers, stats, paused.
    /// ARGV: key prefix, bytes of each in-flight job to return.
    /// Returns {now ms, queued, delayed, next due score or '', dead letters,
    /// flat stats hash, paused value or nil, workers}; each worker is
    /// {id, heartbeat PTTL, in-flight count, first bytes of the newest
    /// in-flight job or nil, its length}.
    static let snapshot =
        now + """
            local workers = {}
            for _, id in ipairs(redis.call('SMEMBERS', KEYS[4])) do
              local inflight = ARGV[1] .. 'inflight:' .. id
              local job = redis.call('LINDEX', inflight, 0)
              local head, length = false, 0
              if job then
                head = string.sub(job, 1, tonumber(ARGV[2]))
                length = #job
              end
              table.insert(workers, {id, redis.call('PTTL', ARGV[1] .. 'hb:' .. id),
                redis.call('LLEN', inflight), head, length})
            end
            local next = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
            return {now_ms(), redis.call('LLEN', KEYS[1]), redis.call('ZCARD', KEYS[2]),
              next[2] or '', redis.call('LLEN', KEYS[3]), redis.call('HGETALL', KEYS[5]),
              redis.call('GET', KEYS[6]), workers}
            """

    /// Counts one page of events by kind.
    /// KEYS: events. ARGV: first entry id (`(` for exclusive), page size.
    /// Returns {entries read, sent, retry, dead, id of the last entry read or ''}.
    static let countEvents = """
        local entries = redis.call('XRANGE', KEYS[1], ARGV[1], '+', 'COUNT', tonumber(ARGV[2]))
        local counts = {sent = 0, retry = 0, dead = 0}
        for _, entry in ipairs(entries) do
          local fields = entry[2]
          for i = 1, #fields, 2 do
            if fields[i] == 'event' then
              local kind = fields[i + 1]
              if counts[kind] then counts[kind] = counts[kind] + 1 end
              break
            end
          end
        end
        local last = ''
        if #entries > 0 then last = entries[#entries][1] end
        return {#entries, counts.sent, counts.retry, counts.dead, last}
        """

    /// Pauses sending: sets the flag with the reason and the Redis time.
    /// KEYS: paused. ARGV: reason, '1' when a reason is given.
    /// Returns the new value.
    static let pause =
        now + """
            local reason = cjson.null
            if ARGV[2] == '1' then reason = ARGV[1] end
            local value = cjson.encode({reason = reason, paused_at = now_ms()})
            redis.call('SET', KEYS[1], value)
            return value
            """

    /// Requeues one dead letter: removes the record, pushes its job to the
    /// end of the queue that workers take from, and resets its attempts.
    /// KEYS: dead, queue, attempts. ARGV: the record as stored.
    /// Returns 'requeued', 'not_retryable' (the job is not text) or 'gone'
    /// (another client removed the record first).
    static let retryDeadLetter = """
        local ok, letter = pcall(cjson.decode, ARGV[1])
        if not ok or type(letter) ~= 'table' or type(letter.job) ~= 'string' then
          return 'not_retryable'
        end
        if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 'gone' end
        redis.call('RPUSH', KEYS[2], letter.job)
        if type(letter.id) == 'string' then redis.call('HDEL', KEYS[3], letter.id) end
        return 'requeued'
        """

    /// Requeues a batch of the oldest dead letters whose jobs are text,
    /// leaving the others in place.
    /// KEYS: dead, queue, attempts. ARGV: records at the old end to pass
    /// over (kept by earlier batches), batch size.
    /// Returns {records read, {requeued ids}, {ids kept}}.
    static let retryOldestDeadLetters = """
        local skip, size = tonumber(ARGV[1]), tonumber(ARGV[2])
        local records = redis.call('LRANGE', KEYS[1], -(skip + size), -(skip + 1))
        local requeued, kept = {}, {}
        for _, record in ipairs(records) do
          local ok, letter = pcall(cjson.decode, record)
          local id = ''
          if ok and type(letter) == 'table' and type(letter.id) == 'string' then id = letter.id end
          if ok and type(letter) == 'table' and type(letter.job) == 'string' then
            -- Removed from the old end, where the record is, so LREM stops early.
            redis.call('LREM', KEYS[1], -1, record)
            redis.call('RPUSH', KEYS[2], letter.job)
            if id ~= '' then redis.call('HDEL', KEYS[3], id) end
            table.insert(requeued, id)
          else
            table.insert(kept, id)
          end
        end
        return {#records, requeued, kept}
        """

    /// Deletes every dead letter.
    /// KEYS: dead. Returns how many there were.
    static let purgeDeadLetters = """
        local count = redis.call('LLEN', KEYS[1])
        redis.call('DEL', KEYS[1])
        return count
        """
}
