#!/usr/bin/env python3
"""The benchmark of issue 7: every figure, one line each, `name value unit`.

Called by `scripts/bench` after the release build. Starts a private
redis-server and the project's SES stub on free loopback ports (peers.py),
runs the daemon (`.build/release/hworker-ses`) and `.build/release/hworker-bench`
against them, and stops everything it started by PID, also on an error or
Ctrl-C. Lines starting with `#` are notes: the header (date, cores, commit,
load average), how a figure was taken, and a failed scenario with its error.
A failed scenario does not stop the others; the exit code is 1 if any failed.

Scenarios, in order (see README "Performance"):
  redis      redis-benchmark LPUSH and RPOP, 50 clients and 1 client
  enqueue    single and bulk enqueues through MailQueue; Redis memory per job
  drain      queued jobs drained by 2 and 8 workers, discarding and through the stub
             (plain HTTP; and 8 workers over https, for the memory TLS costs)
  cost       Redis commands and round trips per job (MONITOR over a small drain)
  latency    one job every 20 ms, enqueue to the start of the SES request
  token      the cost of one rate-segment reservation, alone and contended
  rate       achieved rate and largest one-second window at 14/50/200/1000 per s
  startstop  8 workers ready after start; 8 idle workers drained on SIGTERM
  profile    (only when named) perf and strace over an 8-worker discard drain

Timing figures are noisy when other work runs on the machine: compare the
ratios to redis-benchmark of the same run, and the load average in the header.
"""

import argparse
import datetime
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import peers  # noqa: E402

BENCH_TOOL = os.path.join(ROOT, ".build", "release", "hworker-bench")
KEY_ID = "AKIDBENCHMARK0000001"
SECRET = "bench-secret-not-used-for-anything-real"
TICKS = os.sysconf("SC_CLK_TCK")


def number(value):
    """A figure's value with as many digits as are worth reading."""
    if isinstance(value, int):
        return str(value)
    if value >= 1000:
        return "%d" % round(value)
    if value >= 100:
        return "%.1f" % value
    if value >= 1:
        return "%.2f" % value
    return "%.3f" % value


def percentile(sorted_values, share):
    """The nearest-rank percentile of an ascending list."""
    rank = max(1, int(-(-share * len(sorted_values) // 1)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def cpu_seconds(pid):
    """User plus system CPU time of a process, from /proc/PID/stat."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def peak_rss_kib(pid):
    """VmHWM (peak resident set) of a process, in KiB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def private_kib(pid):
    """Private (unshared) resident memory of a process in KiB: what one more costs."""
    total = 0
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            if line.startswith(("Private_Clean:", "Private_Dirty:")):
                total += int(line.split()[1])
    return total


def redis_cpu(client):
    info = client.info("cpu")
    return info["used_cpu_sys"] + info["used_cpu_user"]


def stream_ms(entry_id):
    return int(entry_id.decode().partition("-")[0])


class Bench:
    """One run: the peers it started, the figures it printed."""

    def __init__(self, args):
        self.args = args
        self.work = tempfile.mkdtemp(prefix="hworker-bench-")
        self.started = time.monotonic()
        self.peers = []
        self.failed = []
        self.values = {}
        self.redis = None
        self.stub = None

    # -- output ------------------------------------------------------------------------

    def figure(self, name, value, unit):
        self.values[name] = value
        print("%s %s %s" % (name, number(value), unit), flush=True)

    def note(self, text):
        print("# " + text, flush=True)

    # -- peers ---------------------------------------------------------------------------

    def track(self, peer):
        self.peers.append(peer)
        return peer

    def stop_all(self):
        for peer in reversed(self.peers):
            try:
                peer.stop(signal.SIGTERM, timeout=15)
            except Exception as error:  # keep stopping the others
                print("bench: stopping PID %d: %s" % (peer.pid, error), file=sys.stderr)
        self.peers = []

    def stop(self, peer, sig=signal.SIGTERM):
        code = peer.stop(sig, timeout=30)
        if peer in self.peers:
            self.peers.remove(peer)
        return code

    def env(self):
        env = dict(os.environ, AWS_ACCESS_KEY_ID=KEY_ID, AWS_SECRET_ACCESS_KEY=SECRET)
        for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "HWORKER_TEST_HOLD_RATE_LOCK",
                    "HWORKER_TEST_PAUSE_BEFORE_ACK"):
            env.pop(key, None)
        return env

    def config(self, queue, **keys):
        values = dict(queue=queue, redis=self.redis.address, workers=8, monitors=1,
                      rate="unlimited", region="us-east-1", transport="discard",
                      events_max=400000, drain_deadline="10s",
                      log_file=os.path.join(self.work, queue + ".log"))
        values["from"] = "bench@example.com"
        if keys.get("transport") == "ses":
            values["ses_endpoint"] = self.stub.url
        values.update(keys)
        return peers.write_config(os.path.join(self.work, queue + ".conf"), **values)

    def daemon(self, queue, env=None, **keys):
        """Starts a master and waits until all its workers are registered in Redis."""
        config = self.config(queue, **keys)
        daemon = self.track(peers.Daemon(config, os.path.join(self.work, queue + ".out"),
                                         env or self.env(), release=True))
        workers = keys.get("workers", 8)
        key = "hworker:{%s}:workers" % queue
        peers.wait_until("%d workers registered" % workers,
                         lambda: self.client.scard(key) >= workers or not daemon.alive(), 30,
                         0.01)
        if not daemon.alive():
            raise RuntimeError("the daemon exited: see %s" % daemon.log_path)
        return daemon

    @property
    def client(self):
        return self.redis.client

    def tool(self, *arguments, timeout=300):
        """Runs hworker-bench and returns its `key=value` fields."""
        result = subprocess.run([BENCH_TOOL] + list(arguments), capture_output=True, text=True,
                                timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError("hworker-bench %s: %s" % (arguments[0], result.stderr.strip()))
        fields = {}
        for line in result.stdout.splitlines():
            for pair in line.split():
                key, _, value = pair.partition("=")
                fields[key] = float(value)
        return fields

    def stage(self, queue, count, prefix):
        """Pushes `count` jobs to a staging list; `release` moves them into a queue at once."""
        staging = "stage-" + queue
        self.tool("enqueue-bulk", "--redis", self.redis.address, "--queue", staging,
                  "--count", str(count), "--prefix", prefix)
        return "hworker:{%s}:queue" % staging

    def release(self, staging, queue):
        self.client.rename(staging, "hworker:{%s}:queue" % queue)

    def sent(self, queue):
        return int(self.client.hget("hworker:{%s}:stats" % queue, "sent") or 0)

    def wait_sent(self, queue, count, timeout, daemon):
        def done():
            if not daemon.alive():
                raise RuntimeError("the daemon exited: see %s" % daemon.log_path)
            return self.sent(queue) >= count
        peers.wait_until("%d jobs sent on %s" % (count, queue), done, timeout, 0.02)

    def ack_span(self, queue):
        """Jobs acknowledged and ms from the first to the last acknowledgement (stream ids)."""
        key = "hworker:{%s}:events" % queue
        first = self.client.xrange(key, count=1)
        last = self.client.xrevrange(key, count=1)
        return self.client.xlen(key), stream_ms(last[0][0]) - stream_ms(first[0][0])

    # -- scenarios ----------------------------------------------------------------------

    def redis_benchmark(self, clients, tests, requests):
        """Runs redis-benchmark on our Redis; returns {"LPUSH": ops/s, ...}."""
        out = subprocess.run(
            ["redis-benchmark", "-h", "127.0.0.1", "-p", str(self.redis.port), "-q",
             "-n", str(requests), "-c", str(clients), "-t", ",".join(tests).lower()],
            capture_output=True, text=True, timeout=180, check=True).stdout
        rates = {}
        for test in tests:
            match = re.search(r"%s: ([0-9.]+) requests per second" % test, out)
            if not match:
                raise RuntimeError("no %s figure in redis-benchmark output: %r" % (test, out))
            rates[test] = float(match.group(1))
        return rates

    def scenario_redis(self):
        """redis-benchmark LPUSH and RPOP on our Redis, 50 clients and 1 client."""
        for clients in (50, 1):
            rates = self.redis_benchmark(clients, ["LPUSH", "RPOP"], self.args.redis_requests)
            label = "%d_client%s" % (clients, "" if clients == 1 else "s")
            for test, rate in rates.items():
                self.figure("redis.%s.%s" % (test.lower(), label), rate, "ops/s")
        self.client.flushall()

    def scenario_enqueue(self):
        """Single enqueues from one client; bulk enqueue of N; Redis memory per queued job."""
        # One connection's round trip drifts with the machine's load within seconds, so
        # the ratio is taken against LPUSH measured just before and just after.
        count = self.args.single_jobs
        before = self.redis_benchmark(1, ["LPUSH"], count)["LPUSH"]
        fields = self.tool("enqueue-single", "--redis", self.redis.address, "--queue", "single",
                           "--count", str(count))
        rate = count / (fields["elapsed_ns"] / 1e9)
        after = self.redis_benchmark(1, ["LPUSH"], count)["LPUSH"]
        self.figure("enqueue.single.1_client", rate, "jobs/s")
        self.figure("redis.lpush.1_client.around_enqueue", (before + after) / 2, "ops/s")
        self.figure("enqueue.single.ratio_to_redis_lpush_1_client", rate * 2 / (before + after),
                    "ratio")
        self.note("enqueue.single: %d jobs; redis-benchmark -c 1 LPUSH of as many requests just "
                  "before (%.0f/s) and after (%.0f/s)" % (count, before, after))
        self.client.flushall()

        count = self.args.jobs
        before = self.client.info("memory")["used_memory"]
        fields = self.tool("enqueue-bulk", "--redis", self.redis.address, "--queue", "bulk",
                           "--count", str(count))
        after = self.client.info("memory")["used_memory"]
        self.figure("enqueue.bulk.%d_jobs" % count, count / (fields["elapsed_ns"] / 1e9),
                    "jobs/s")
        size = len(self.client.lindex("hworker:{bulk}:queue", 0))
        self.figure("memory.redis.per_queued_job", (after - before) / count, "bytes")
        self.note("a queued job is %d bytes of JSON (1 KB text body, one recipient)" % size)
        self.client.flushall()

    def drain(self, transport, workers, count, record=False, tls=False):
        """Drains `count` staged jobs with a running master; returns what it measured.
        With `tls`, the SES stub is one serving https, trusted through SSL_CERT_FILE."""
        queue = "drain-%s-%d%s" % (transport, workers, "-tls" if tls else "")
        staging = self.stage(queue, count, queue + "-")
        stub = self.tls_stub() if tls else self.stub
        keys, env = {}, None
        if transport == "ses":
            stub.call("POST", "/_stub/reset", {"settings": False})
            keys["ses_endpoint"] = stub.url
        if tls:
            env = dict(self.env(), SSL_CERT_FILE=self.certificates.authority)
        daemon = self.daemon(queue, env=env, workers=workers, transport=transport, **keys)
        children = [pid for pid, _ in daemon.children()]
        self.client.config_resetstat()
        cpu_before = {pid: cpu_seconds(pid) for pid in [daemon.pid] + children}
        redis_before = redis_cpu(self.client)
        stub_before = cpu_seconds(stub.pid) if transport == "ses" else 0
        self.release(staging, queue)
        self.wait_sent(queue, count, self.args.drain_timeout, daemon)
        acked, span_ms = self.ack_span(queue)
        result = dict(
            rate=(acked - 1) / (span_ms / 1000.0), acked=acked,
            master_rss=peak_rss_kib(daemon.pid),
            worker_rss=max(peak_rss_kib(pid) for pid in daemon.workers()),
            master_private=private_kib(daemon.pid),
            worker_private=max(private_kib(pid) for pid in daemon.workers()),
            master_cpu=cpu_seconds(daemon.pid) - cpu_before[daemon.pid],
            children_cpu=sum(cpu_seconds(pid) - cpu_before.get(pid, 0)
                             for pid, _ in daemon.children()),
            redis_cpu=redis_cpu(self.client) - redis_before,
            stub_cpu=(cpu_seconds(stub.pid) - stub_before) if transport == "ses" else 0,
            commandstats=self.client.info("commandstats") if record else None)
        # Read after the command statistics, which must not count these reads.
        state = peers.queue_stats(self.client, queue)
        if state["queued"] or state["in_flight"] or state["dead_letters"] or state["delayed"]:
            self.note("%s: not drained cleanly: %s" % (queue, state))
        code = self.stop(daemon)
        if code != 0:
            self.note("the %s master exited with %s" % (queue, code))
        if acked != count:
            self.note("%s: %d sent events for %d jobs" % (queue, acked, count))
        self.client.flushall()
        return result

    def report_drain(self, transport, workers, count, result):
        name = "drain.%s.%d_workers" % (transport, workers)
        self.figure(name, result["rate"], "jobs/s")
        rpop = self.values.get("redis.rpop.50_clients")
        if rpop and transport == "discard":
            self.figure(name + ".ratio_to_redis_rpop_50_clients", result["rate"] / rpop,
                        "ratio")
        for part in ("children", "master", "redis", "stub"):
            if result[part + "_cpu"]:
                self.figure("cpu.%s.%d_workers.%s" % (transport, workers, part),
                            result[part + "_cpu"] / count * 1e6, "us/job")

    def scenario_drain(self):
        """Drains of N jobs: discard with 2 and 8 workers, then through the stub."""
        self.note("drain: %d jobs queued at once; jobs/s from the first to the last "
                  "acknowledgement (events stream ids, Redis clock)" % self.args.jobs)
        for workers in (2, 8):
            result = self.drain("discard", workers, self.args.jobs, record=workers == 8)
            self.report_drain("discard", workers, self.args.jobs, result)
            if workers == 8:
                self.memory("discard", result)
                self.redis_time(result["commandstats"], self.args.jobs)
        self.note("drain.ses_stub: full send path (validate, MIME, SigV4, HTTP keep-alive) "
                  "against scripts/ses-stub.py with --auth off; %d jobs, not %d, so that the "
                  "run stays under 10 minutes" % (self.args.stub_jobs, self.args.jobs))
        for workers in (2, 8):
            result = self.drain("ses", workers, self.args.stub_jobs)
            name = "drain.ses_stub.%d_workers" % workers
            self.figure(name, result["rate"], "jobs/s")
            for part in ("children", "master", "redis", "stub"):
                self.figure("cpu.ses.%d_workers.%s" % (workers, part),
                            result[part + "_cpu"] / self.args.stub_jobs * 1e6, "us/job")
            if workers == 8:
                self.memory("ses", result)
        count = min(self.args.stub_jobs, 5000)
        self.note("drain.ses_stub_tls: the same over https (TLS 1.3, a private authority "
                  "trusted through SSL_CERT_FILE), %d jobs, for the memory TLS costs" % count)
        result = self.drain("ses", 8, count, tls=True)
        self.figure("drain.ses_stub_tls.8_workers", result["rate"], "jobs/s")
        self.memory("ses_tls", result)

    def tls_stub(self):
        """A second SES stub, serving https with a certificate from a private authority."""
        if not getattr(self, "tls_stub_peer", None):
            self.certificates = peers.Certificates(self.work)
            self.tls_stub_peer = self.track(peers.SESStub(
                self.work, "--auth", "off", "--no-record-bodies", tls=self.certificates))
        return self.tls_stub_peer

    def memory(self, transport, result):
        self.figure("memory.master.peak_rss.%s_8_workers" % transport,
                    result["master_rss"] / 1024, "MiB")
        self.figure("memory.worker.peak_rss.%s_8_workers" % transport,
                    result["worker_rss"] / 1024, "MiB")
        self.figure("memory.master.private.%s_8_workers" % transport,
                    result["master_private"] / 1024, "MiB")
        self.figure("memory.worker.private.%s_8_workers" % transport,
                    result["worker_private"] / 1024, "MiB")
        if transport == "discard":
            self.note("memory: peak_rss is VmHWM (shared library pages count in full); "
                      "private is the unshared part at the end of the drain, from smaps_rollup")

    def redis_time(self, stats, count):
        """Redis's own time per job by command, over the 8-worker discard drain."""
        total = 0.0
        for name, stat in sorted(stats.items(), key=lambda item: -item[1]["usec"]):
            per_job = stat["usec"] / count
            total += stat["usec"]
            if stat["calls"] >= count / 100:
                command = name.replace("cmdstat_", "").replace("|", "_")
                self.figure("redis_time.%s" % command, per_job, "us/job")
        self.note("redis_time: commandstats usec, divided by jobs; evalsha includes the "
                  "commands its script runs, which are also listed on their own")

    def scenario_cost(self):
        """Commands and round trips per job, from MONITOR over a small 8-worker drain."""
        count = self.args.monitor_jobs
        queue = "cost"
        staging = self.stage(queue, count, "cost-")
        daemon = self.daemon(queue, workers=8, transport="discard")
        ours = self.client.client_info()["addr"]
        path = os.path.join(self.work, "monitor.txt")
        monitor = self.track(peers.Peer(["redis-cli", "-p", str(self.redis.port), "MONITOR"],
                                        path))
        peers.wait_until("MONITOR runs", lambda: os.path.getsize(path) > 0, 10)
        self.release(staging, queue)
        self.wait_sent(queue, count, 120, daemon)
        time.sleep(0.2)
        self.stop(monitor)
        self.stop(daemon)
        trips, inner = {}, {}
        pattern = re.compile(r'^[0-9.]+ \[\d+ ([^\]]+)\] "([^"]+)"')
        with open(path, errors="replace") as f:
            for line in f:
                match = pattern.match(line)
                if not match or match.group(1) == ours:
                    continue
                table = inner if match.group(1) == "lua" else trips
                command = match.group(2).lower()
                table[command] = table.get(command, 0) + 1
        self.figure("redis.round_trips_per_job", sum(trips.values()) / count, "commands")
        for command, calls in sorted(trips.items(), key=lambda item: -item[1]):
            if calls >= count / 100:
                self.figure("redis.round_trips_per_job.%s" % command, calls / count, "commands")
        self.figure("redis.script_commands_per_job", sum(inner.values()) / count, "commands")
        for command, calls in sorted(inner.items(), key=lambda item: -item[1]):
            if calls >= count / 100:
                self.figure("redis.script_commands_per_job.%s" % command, calls / count,
                            "commands")
        self.note("cost: MONITOR over %d jobs drained by 8 workers (discard); round trips are "
                  "the commands clients sent, script commands run inside EVALSHA" % count)
        self.client.flushall()

    def scenario_latency(self):
        """One job every 20 ms to 8 idle workers (stub path): enqueue to send start."""
        queue = "latency"
        count = self.args.latency_jobs
        self.stub.call("POST", "/_stub/reset", {"settings": False})
        daemon = self.daemon(queue, workers=8, transport="ses")
        self.tool("latency", "--redis", self.redis.address, "--queue", queue,
                  "--count", str(count), "--interval-ms", "20", timeout=120)
        self.wait_sent(queue, count, 60, daemon)
        events = peers.sent_events(self.client, queue)
        self.stop(daemon)
        delays = sorted((e["started"] * 1e6 - int(e["payload"])) / 1000 for e in events)
        self.figure("latency.idle.p50", percentile(delays, 0.50), "ms")
        self.figure("latency.idle.p99", percentile(delays, 0.99), "ms")
        self.figure("latency.idle.max", delays[-1], "ms")
        self.note("latency: %d jobs, one every 20 ms, from before MailQueue.enqueue to "
                  "started_us of the send (same clock)" % len(delays))
        self.client.flushall()

    def scenario_token(self):
        """Rate-segment reservations: alone, and with 8 contending processes."""
        fields = self.tool("token", "--count", str(self.args.token_count), "--processes", "8")
        self.figure("rate.token.uncontended", fields["uncontended_ns"], "ns/reservation")
        self.figure("rate.token.8_processes", fields["wall_ns"] / fields["reservations"],
                    "ns/reservation")
        self.figure("rate.token.8_processes.per_call", fields["mean_call_ns"], "ns/call")
        self.note("token: 8_processes is wall time over all reservations of 8 processes on "
                  "%d cores; per_call is the mean time one reserve() took in a process"
                  % os.cpu_count())

    def scenario_rate(self):
        """Achieved rate and largest one-second window, 8 workers, through the stub."""
        for rate in self.args.rates:
            seconds = max(3.0, min(5.0, 60.0 / rate))
            count = int(rate * seconds)
            queue = "rate-%d" % rate
            self.stub.call("POST", "/_stub/reset", {"settings": False})
            daemon = self.daemon(queue, workers=8, transport="ses", rate=rate)
            self.tool("enqueue-bulk", "--redis", self.redis.address, "--queue", queue,
                      "--count", str(count), "--prefix", queue + "-")
            self.wait_sent(queue, count, seconds * 3 + 30, daemon)
            events = peers.sent_events(self.client, queue)
            stats = self.stub.stats()
            self.stop(daemon)
            starts = [e["started"] for e in events]
            span = max(starts) - min(starts)
            self.figure("rate.%d.achieved" % rate, (len(starts) - 1) / span, "recipients/s")
            self.figure("rate.%d.largest_window.events" % rate, peers.largest_window(events),
                        "recipients")
            self.figure("rate.%d.largest_window.stub" % rate,
                        stats["max_recipients_in_1s_window"], "recipients")
            self.client.flushall()
        self.note("rate: 8 workers, burst 0, single-recipient jobs, about 3-5 s each; "
                  "largest_window.events from started_us, .stub from the stub's arrivals")

    def scenario_startstop(self):
        """8 workers registered after the master starts; idle drain on SIGTERM."""
        starts, stops = [], []
        for round_ in range(self.args.startstop_rounds):
            queue = "startstop-%d" % round_
            started = time.monotonic()
            daemon = self.daemon(queue, workers=8, transport="discard")
            starts.append((time.monotonic() - started) * 1000)
            time.sleep(0.5)
            stopping = time.monotonic()
            daemon.proc.send_signal(signal.SIGTERM)
            code = daemon.proc.wait(30)
            stops.append((time.monotonic() - stopping) * 1000)
            self.stop(daemon)
            if code != 0:
                self.note("startstop: the master exited with %s" % code)
        self.figure("start.8_workers_ready", sorted(starts)[len(starts) // 2], "ms")
        self.figure("stop.drain_8_idle_workers", sorted(stops)[len(stops) // 2], "ms")
        self.note("startstop: median of %d rounds; start %s ms, stop %s ms"
                  % (len(starts), " ".join("%.0f" % s for s in starts),
                     " ".join("%.0f" % s for s in stops)))
        self.client.flushall()

    def scenario_profile(self):
        """Where the time goes in an 8-worker discard drain: perf and syscalls (not default)."""
        count = self.args.jobs
        queue = "profile"
        staging = self.stage(queue, count, "prof-")
        daemon = self.daemon(queue, workers=8, transport="discard")
        worker = daemon.workers()[0]
        pids = [daemon.pid] + [pid for pid, _ in daemon.children()] + [self.redis.pid]
        data = os.path.join(self.work, "drain.perf.data")
        recorders = [
            self.track(peers.Peer(["perf", "record", "-F", "999", "-g", "-o", data, "-p",
                                   ",".join(map(str, pids))], data + ".log")),
            self.track(peers.Peer(["strace", "-c", "-o", os.path.join(self.work, "worker.strace"),
                                   "-p", str(worker)], os.path.join(self.work, "strace.log"))),
            self.track(peers.Peer(["strace", "-c", "-o", os.path.join(self.work, "master.strace"),
                                   "-p", str(daemon.pid)], os.path.join(self.work, "strace.log"))),
        ]
        time.sleep(1)
        self.release(staging, queue)
        self.wait_sent(queue, count, self.args.drain_timeout, daemon)
        for recorder in recorders:
            self.stop(recorder, signal.SIGINT)
        with open(daemon.log_path.replace(".out", ".log"), errors="replace") as f:
            handled = sum(1 for line in f if "pid=%d msg=sent " % worker in line)
        self.stop(daemon)
        for role, per in (("worker", handled), ("master", count)):
            with open(os.path.join(self.work, role + ".strace")) as f:
                for line in f:
                    fields = line.split()
                    if len(fields) >= 5 and fields[3].isdigit() and fields[-1] != "total":
                        calls = int(fields[3])
                        if calls >= per / 100:
                            self.figure("profile.syscalls_per_job.%s.%s" % (role, fields[-1]),
                                        calls / per, "calls")
        report = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort",
                                 "comm,dso", "--stdio", "-g", "none"],
                                capture_output=True, text=True).stdout
        for line in report.splitlines():
            if line.strip() and not line.startswith("#"):
                self.note("perf: " + line.strip())
        # Inclusive time of the daemon's own functions, demangled.
        report = subprocess.run(["perf", "report", "-i", data, "--children", "--comm",
                                 "hworker-ses", "--sort", "sym", "--stdio", "-g", "none"],
                                capture_output=True, text=True).stdout
        report = subprocess.run(["swift", "demangle", "--simplified"], input=report,
                                capture_output=True, text=True).stdout
        shown = 0
        for line in report.splitlines():
            if re.search(r"(WorkerProcess|WorkerSession|Master|Job|EmailMessage|Logger|"
                         r"ChildRuntime|ProcessEnvironment|JSON|MailAddress|RedisConnection)\.",
                         line) and shown < 30:
                self.note("perf hworker-ses: " + " ".join(line.split())[:150])
                shown += 1
        self.note("profile: strace -c on one worker (%d jobs) and the master; perf data in %s "
                  "(keep it with --keep; perf report -i FILE --children)" % (handled, data))
        self.client.flushall()

    # -- the run ------------------------------------------------------------------------

    def header(self):
        commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True).stdout.strip() or "unknown"
        dirty = subprocess.run(
            ["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True).stdout.strip()
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        redis_version = subprocess.run(["redis-server", "--version"], capture_output=True,
                                       text=True).stdout.split()[2].replace("v=", "")
        self.note("hworker-ses bench  date=%s  nproc=%d  commit=%s%s  redis=%s"
                  % (now, os.cpu_count(), commit, "+dirty" if dirty else "", redis_version))
        self.note("load average at start: %s" % self.load())

    @staticmethod
    def load():
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])

    def run(self, scenarios):
        self.header()
        self.redis = self.track(peers.Redis(self.work))
        self.stub = self.track(peers.SESStub(self.work, "--auth", "off", "--no-record-bodies"))
        for name in scenarios:
            self.note("%s: load average %s" % (name, self.load()))
            try:
                getattr(self, "scenario_" + name)()
            except Exception as error:
                self.failed.append(name)
                self.note("scenario %s failed: %s: %s" % (name, type(error).__name__, error))
                self.client.flushall()
        self.note("load average at end: %s; took %.0f s"
                  % (self.load(), time.monotonic() - self.started))
        if self.failed:
            self.note("failed scenarios: " + " ".join(self.failed))
        return 1 if self.failed else 0


def interrupted(signum, frame):
    """SIGTERM ends the run like Ctrl-C, so that the peers are stopped on the way out."""
    raise KeyboardInterrupt


SCENARIOS = ["redis", "enqueue", "drain", "cost", "latency", "token", "rate", "startstop"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    # `profile` is not in the default run: perf and strace slow what they watch.
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO",
                        help="some of: %s (default: all)" % " ".join(SCENARIOS))
    parser.add_argument("--jobs", type=int, default=100000, help="jobs per discard drain")
    parser.add_argument("--stub-jobs", type=int, default=20000, help="jobs per stub drain")
    parser.add_argument("--single-jobs", type=int, default=20000, help="single enqueues")
    parser.add_argument("--monitor-jobs", type=int, default=5000, help="jobs seen by MONITOR")
    parser.add_argument("--latency-jobs", type=int, default=500)
    parser.add_argument("--token-count", type=int, default=2000000)
    parser.add_argument("--redis-requests", type=int, default=200000)
    parser.add_argument("--rates", type=int, nargs="+", default=[14, 50, 200, 1000])
    parser.add_argument("--startstop-rounds", type=int, default=3)
    parser.add_argument("--drain-timeout", type=float, default=180)
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    unknown = [name for name in args.scenarios if name not in SCENARIOS + ["profile"]]
    if unknown:
        parser.error("unknown scenario: " + " ".join(unknown))

    signal.signal(signal.SIGTERM, interrupted)
    bench = Bench(args)
    try:
        return bench.run(args.scenarios or SCENARIOS)
    except KeyboardInterrupt:
        bench.note("interrupted")
        return 130
    finally:
        bench.stop_all()
        if args.keep:
            print("bench: work directory kept: %s" % bench.work, file=sys.stderr)
        else:
            shutil.rmtree(bench.work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
