"""Hostile conditions: Redis outages and errors, Redis security, SES faults,
bad input in bulk, bad configuration, and secrets. Each test asserts the
exact end state: what was delivered, what is a dead letter and why, and
that nothing is missing."""

import json
import os
import random
import signal
import stat
import subprocess
import time
import unittest

from harness import DaemonTestCase, KEY_ID, SECRET_KEY, SENDER, peers
from test_rate import jobs_file

REDIS_PASSWORD = "redis-pw-Zq81xK"


class RedisFaults(DaemonTestCase):
    def test_redis_stopped_and_restarted_with_aof_loses_no_job(self):
        outage = float(os.environ.get("HWORKER_OUTAGE_SECONDS", "30"))
        self.redis.stop()
        self.peers.remove(self.redis)
        self.redis = self.track(peers.Redis(self.work, appendonly=True))
        self.client = self.redis.client
        stub = self.stub()
        config = self.config(ses_endpoint=stub.url, workers=2, rate=20)
        daemon = self.daemon(config)
        self.cli("enqueue", "--config", config, "--jsonl", jobs_file(self, 100))
        self.wait_stats("some are sent", lambda s: s.get("sent", 0) >= 20)
        children = sorted(daemon.children())
        self.redis.stop(signal.SIGTERM)
        started = time.monotonic()
        result = self.cli("enqueue", "--config", config, "--to", "late@example.org",
                          "--subject", "s", "--text", "t")
        self.assertLess(time.monotonic() - started, 3)
        self.assertEqual(result.returncode, 1)
        self.assertIn("cannot connect to Redis", result.stderr)
        time.sleep(outage)
        self.redis.restart()
        # A copy the outage left behind is recognised as sent and dropped.
        self.wait_stats("all are sent and nothing is left",
                        lambda s: s.get("sent", 0) >= 100
                        and s["queued"] + s["in_flight"] + s["delayed"] == 0, 90)
        # A send whose acknowledgement waited for Redis may go out twice (at least
        # once), never more often than there were sends in hand.
        self.assertLessEqual(self.stats().get("sent"), 102)
        self.assertEqual(len({e["job"] for e in peers.sent_events(self.client, self.queue)}), 100)
        self.assertEqual(sorted(daemon.children()), children)
        outages = self.log().count("redis unreachable")
        self.assertGreaterEqual(outages, 1)
        self.assertLessEqual(outages, 4)  # once per worker and monitor, not once per attempt
        self.assertNotIn("Redis lost its data", self.log())

    def test_acknowledgements_repeated_after_a_redis_stall_are_applied_once(self):
        # Redis stalls longer than the workers' command timeout while they drain a
        # deep queue in batches: they repeat acknowledgements whose answers never
        # came, and each must be applied once (a repeat used to trim the next,
        # unsent batch from the in-flight list).
        self.redis.stop()
        self.peers.remove(self.redis)
        self.redis = self.track(peers.Redis(self.work, extra=["--enable-debug-command", "yes"]))
        self.client = self.redis.client
        count = 30000
        config = self.config(workers=2, rate="unlimited", transport="discard",
                             heartbeat_timeout="30s", events_max=10 * count)
        key = "hworker:{%s}:queue" % self.queue
        for start in range(0, count, 1000):
            self.client.lpush(key, *[json.dumps({"id": "s%d" % i, "email": {
                "to": ["a@example.org"], "subject": "s", "text": "t"}})
                for i in range(start, start + 1000)])
        self.daemon(config)
        self.wait_stats("a few batches are sent", lambda s: s.get("sent", 0) >= 500)
        self.assertGreater(self.client.llen(key), 1000, "the drain ended before the stall")
        stall = subprocess.run(["redis-cli", "-p", str(self.redis.port), "DEBUG", "SLEEP", "6"],
                               capture_output=True, text=True, timeout=30)
        self.assertEqual(stall.stdout.strip(), "OK", stall.stderr)
        self.wait_stats("the queue is drained",
                        lambda s: s["queued"] + s["in_flight"] == 0, 120)
        self.assertIn("redis unreachable", self.log())
        ids = [e["job"] for e in peers.sent_events(self.client, self.queue)]
        self.assertEqual(len(set(ids)), count)
        self.assertEqual(len(ids), count)
        self.assertEqual(self.stats().get("sent"), count)

    def test_redis_restarted_without_persistence_is_reported(self):
        stub = self.stub()
        config = self.config(ses_endpoint=stub.url, workers=1)
        self.daemon(config)
        peers.wait_until("the marker exists",
                         lambda: self.client.exists("hworker:{%s}:epoch" % self.queue), 10)
        self.redis.stop(signal.SIGKILL)
        self.redis.restart()
        peers.wait_until("the loss is reported", lambda: "Redis lost its data" in self.log(), 15)
        self.enqueue(config, to="a@example.org", subject="after", text="t")
        self.wait_stats("the queue works again", lambda s: s.get("sent", 0) == 1, 20)

    def test_a_key_of_the_wrong_type_is_an_error_not_a_crash(self):
        stub = self.stub()
        config = self.config(ses_endpoint=stub.url, workers=2)
        daemon = self.daemon(config)
        children = sorted(daemon.children())
        self.client.delete("hworker:{%s}:queue" % self.queue)
        self.client.set("hworker:{%s}:queue" % self.queue, "not a list")
        peers.wait_until("the error is logged", lambda: "WRONGTYPE" in self.log(), 10)
        result = self.cli("enqueue", "--config", config, "--to", "a@example.org", "--subject", "s",
                          "--text", "t")
        self.assertEqual(result.returncode, 1)
        self.assertIn("WRONGTYPE", result.stderr)
        self.client.delete("hworker:{%s}:queue" % self.queue)
        self.enqueue(config, to="a@example.org", subject="s", text="t")
        self.wait_stats("it works again", lambda s: s.get("sent", 0) == 1)
        self.assertEqual(sorted(daemon.children()), children)

    def test_keys_of_the_wrong_type_change_nothing_and_lose_no_job(self):
        stub = self.stub()
        config = self.config(ses_endpoint=stub.url, workers=1)
        self.daemon(config)
        prefix = "hworker:{%s}:" % self.queue
        for key in ("dead", "stats", "events"):
            self.client.set(prefix + key, "not the right type")
        self.client.lpush(prefix + "queue", json.dumps({"id": "bad", "email": {"to": ["bob@"]}}))
        peers.wait_until("the refusal is logged", lambda: "nothing was changed" in self.log(), 10)
        time.sleep(1)
        held = [self.client.llen(k) for k in self.client.scan_iter(match=prefix + "inflight:*")]
        self.assertEqual(held, [1])
        self.assertFalse(self.client.exists(prefix + "attempts"))
        for key in ("dead", "stats", "events"):
            self.client.delete(prefix + key)
        peers.wait_until("the job is a dead letter", lambda: len(self.dead_letters()) == 1, 20)
        self.assertEqual(self.dead_letters()[0]["id"], "bad")
        self.assertEqual(self.dead_letters()[0]["attempts"], 1)

    def test_a_bad_in_flight_key_does_not_stop_the_monitor(self):
        stub = self.stub()
        config = self.config(ses_endpoint=stub.url, workers=1)
        self.daemon(config)
        prefix = "hworker:{%s}:" % self.queue
        self.client.sadd(prefix + "workers", "x:y")
        self.client.set(prefix + "inflight:x:y", "not a list")
        result = self.cli("enqueue", "--config", config, "--send-at", "2020-01-01T00:00:00Z",
                          "--to", "a@example.org", "--subject", "s", "--text", "t")
        self.assertEqual(result.returncode, 0, result.stderr)
        peers.wait_until("the scheduled job is sent", lambda: len(stub.sent()) == 1, 20)

    def test_redis_out_of_memory_gives_a_clear_enqueue_error(self):
        config = self.config(ses_endpoint="http://127.0.0.1:9")
        self.client.config_set("maxmemory", "1")
        self.client.config_set("maxmemory-policy", "noeviction")
        result = self.cli("enqueue", "--config", config, "--to", "a@example.org", "--subject", "s",
                          "--text", "t")
        self.assertEqual(result.returncode, 1)
        self.assertIn("OOM", result.stderr)


class RedisSecurity(DaemonTestCase):
    def setUp(self):
        super().setUp()
        self.client.execute_command("ACL", "SETUSER", "mailer", "on", ">" + REDIS_PASSWORD,
                                    "~*", "&*", "+@all")
        self.client.execute_command("ACL", "SETUSER", "default", "off")

    def test_acl_user_password_database_and_unix_socket_work_and_the_password_stays_secret(self):
        import redis
        self.client = redis.Redis(unix_socket_path=self.redis.socket, username="mailer",
                                  password=REDIS_PASSWORD, db=3)
        stub = self.stub()
        config = self.config(ses_endpoint=stub.url, redis="unix:" + self.redis.socket,
                             redis_user="mailer", redis_password=REDIS_PASSWORD, redis_database=3)
        daemon = self.daemon(config)
        self.enqueue(config, to="a@example.org", subject="s", text="t")
        self.wait_stats("the job is sent", lambda s: s.get("sent", 0) == 1)
        for pid in [daemon.pid] + [p for p, _ in daemon.children()]:
            cmdline = open("/proc/%d/cmdline" % pid, "rb").read()
            self.assertNotIn(REDIS_PASSWORD.encode(), cmdline)
            self.assertNotIn(SECRET_KEY.encode(), cmdline)
        wrong = self.config("wrong.conf", redis="unix:" + self.redis.socket, redis_user="mailer",
                            redis_password="not-" + REDIS_PASSWORD)
        result = self.cli("enqueue", "--config", wrong, "--to", "a@example.org", "--subject", "s",
                          "--text", "t")
        self.assertEqual(result.returncode, 1)
        self.assertIn("WRONGPASS", result.stderr)
        self.assertNotIn(REDIS_PASSWORD, result.stderr)
        daemon.stop()
        for text in (self.log(), open(os.path.join(self.work, "master.out")).read()):
            self.assertNotIn(REDIS_PASSWORD, text)
            self.assertNotIn(SECRET_KEY, text)

    def test_a_config_holding_secrets_readable_by_others_draws_a_warning(self):
        config = self.config(redis_password=REDIS_PASSWORD)
        os.chmod(config, 0o644)
        result = self.cli("check-config", config)
        self.assertEqual(result.returncode, 0)
        self.assertIn("readable by other users", result.stderr)
        os.chmod(config, 0o600)
        self.assertNotIn("readable by other users", self.cli("check-config", config).stderr)

    def test_a_readable_config_without_secrets_draws_no_warning(self):
        config = self.config()  # the key pair comes from the environment
        os.chmod(config, 0o644)
        result = self.cli("check-config", config)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertNotIn("readable by other users", result.stderr)


class SESFaults(DaemonTestCase):
    def run_with(self, settings, count=6, **config):
        stub = self.stub()
        stub.configure(**settings)
        values = dict(ses_endpoint=stub.url, workers=2, max_attempts=4, send_timeout="1s")
        values.update(config)
        path = self.config(**values)
        self.daemon(path)
        self.cli("enqueue", "--config", path, "--jsonl", jobs_file(self, count))
        self.wait_stats("every job ends", lambda s: s.get("sent", 0) + s.get("dead", 0) == count, 60)
        stats = self.stats()
        self.assertEqual(stats["queued"] + stats["in_flight"] + stats["delayed"], 0)
        return stub, stats

    def test_server_errors_are_retried_until_sent(self):
        stub, stats = self.run_with({"fail_next_5xx": 5})
        self.assertEqual(stats.get("sent"), 6)
        self.assertGreaterEqual(stats.get("retried"), 5)

    def test_too_many_requests_is_retried_until_sent(self):
        stub, stats = self.run_with({"fail_next": ["TooManyRequestsException"] * 4})
        self.assertEqual(stats.get("sent"), 6)

    def test_slow_answers_past_the_timeout_are_retried(self):
        stub, stats = self.run_with({"delay_next": 3, "delay_next_ms": 2500})
        self.assertEqual(stats.get("sent"), 6)
        self.assertGreaterEqual(stats.get("retried"), 3)

    def test_connections_reset_dropped_or_answered_with_junk_are_retried(self):
        stub, stats = self.run_with({"reset_next": 2, "drop_next": 2, "malformed_next": 2})
        self.assertEqual(stats.get("dead", 0), 0)
        # A junk answer to an accepted send may mean a second copy; never a loss.
        self.assertEqual(stats.get("sent"), 6)

    def test_a_refused_connection_ends_in_dead_letters_with_the_network_reason(self):
        port = peers.free_port()
        path = self.config(ses_endpoint="http://127.0.0.1:%d" % port, workers=1, max_attempts=2)
        self.daemon(path)
        self.enqueue(path, to="a@example.org", subject="s", text="t")
        self.wait_stats("the job is dead", lambda s: s.get("dead", 0) == 1, 30)
        letter = self.dead_letters()[0]
        self.assertEqual(letter["code"], "network")
        self.assertEqual(letter["attempts"], 2)
        self.assertIn("onnect", letter["reason"])


def malformed_payloads(count, seed=7):
    """Payloads that are each invalid in one way, cycling through the kinds."""
    rng = random.Random(seed)
    good = {"to": ["a@example.org"], "subject": "s", "text": "t"}
    kinds = [
        lambda i: bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 200))) + b"\xff",
        lambda i: json.dumps({"id": "t%d" % i, "email": good})[: rng.randint(1, 40)].encode(),
        lambda i: json.dumps({"id": "w%d" % i, "email": dict(good, to="a@example.org")}).encode(),
        lambda i: json.dumps({"id": "n%d" % i, "email": dict(good, to=["u%d@example.org" % k
                                                                      for k in range(51)])}).encode(),
        lambda i: json.dumps({"id": "a%d" % i, "email": dict(good, to=["not-an-address"])}).encode(),
        lambda i: json.dumps({"id": "h%d" % i, "email": dict(good, subject="x\r\nBcc: evil@example.org")}).encode(),
        lambda i: json.dumps({"id": "e%d" % i, "email": dict(good, headers=[{"name": "X-A", "value": "1\nX-B: 2"}])}).encode(),
        lambda i: json.dumps({"id": "m%d" % i}).encode(),
        lambda i: json.dumps({"id": "b%d" % i, "email": dict(good, raw="%%%not base64")}).encode(),
        lambda i: json.dumps([1, 2, 3]).encode(),
        lambda i: b'{"id": "u%d", "email": {"to": ["a@example.org"], "subject": "\xc3\x28", "text": "t"}}' % i,
        lambda i: json.dumps({"id": "s%d" % i, "email": dict(good, subject="")}).encode(),
    ]
    return [kinds[i % len(kinds)](i) for i in range(count)]


class BadInput(DaemonTestCase):
    def test_ten_thousand_malformed_payloads_are_all_dead_lettered_and_the_daemon_stays_healthy(self):
        count = int(os.environ.get("HWORKER_FUZZ_COUNT", "10000"))
        stub = self.stub()
        config = self.config(ses_endpoint=stub.url, workers=4, rate=500, heartbeat_timeout="10s")
        daemon = self.daemon(config)
        children = sorted(daemon.children())
        key = "hworker:{%s}:queue" % self.queue
        payloads = malformed_payloads(count)
        pipe = self.client.pipeline()
        for start in range(0, count, 1000):
            pipe.lpush(key, *payloads[start:start + 1000])
        pipe.execute()
        self.cli("enqueue", "--config", config, "--jsonl", jobs_file(self, 20, prefix="good"))
        self.wait_stats("all are accounted for",
                        lambda s: s.get("dead", 0) + s.get("sent", 0) == count + 20, 600)
        stats = self.stats()
        self.assertEqual(stats.get("sent"), 20)
        self.assertEqual(stats.get("dead"), count)
        self.assertEqual(stats["dead_letters"], count)
        self.assertEqual(stats["queued"] + stats["in_flight"] + stats["delayed"], 0)
        letters = self.dead_letters()
        self.assertTrue(all(letter["reason"] for letter in letters))
        self.assertEqual(sorted(daemon.children()), children)
        self.assertEqual(len(stub.sent()), 20)

    def test_invalid_jobs_are_refused_at_enqueue_with_the_field(self):
        config = self.config(ses_endpoint="http://127.0.0.1:9")
        cases = [
            (["--to", "bob@", "--subject", "s", "--text", "t"], 'email.to[0]: invalid address "bob@"'),
            (["--to", "a@example.org", "--subject", "a\r\nBcc: x@example.org", "--text", "t"],
             "email.subject"),
            (["--subject", "s", "--text", "t"], "recipient"),
            (["--to", "a@example.org", "--subject", "s"], "email"),
        ]
        for args, expected in cases:
            with self.subTest(args=args):
                result = self.cli("enqueue", "--config", config, *args)
                self.assertEqual(result.returncode, 2, result.stderr)
                self.assertIn(expected, result.stderr)
        many = ["--to=u%d@example.org" % i for i in range(51)]
        result = self.cli("enqueue", "--config", config, "--subject", "s", "--text", "t", *many)
        self.assertEqual(result.returncode, 2)
        self.assertIn("51", result.stderr)
        self.assertEqual(self.client.llen("hworker:{%s}:queue" % self.queue), 0)


class Secrets(DaemonTestCase):
    def test_no_secret_appears_in_any_log_line_of_a_full_run(self):
        stub = self.stub()
        stub.configure(fail_next=["SignatureDoesNotMatch", "InternalFailure", "MessageRejected"])
        config = self.config(ses_endpoint=stub.url, workers=2, log_level="debug", pause_recheck="2s",
                             aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET_KEY,
                             aws_session_token="TOKEN-sekrit-9q")
        env = dict(os.environ)
        daemon = self.daemon(config, env)
        self.cli("enqueue", "--config", config, "--jsonl", jobs_file(self, 10))
        self.wait_stats("every job ends", lambda s: s.get("sent", 0) + s.get("dead", 0) == 10, 60)
        os.kill(daemon.pid, signal.SIGHUP)
        time.sleep(1)
        daemon.stop()
        text = self.log() + open(os.path.join(self.work, "master.out")).read()
        text += json.dumps(self.dead_letters())
        self.assertIn("msg=sent", text)
        for secret in (SECRET_KEY, "TOKEN-sekrit-9q"):
            self.assertNotIn(secret, text)


if __name__ == "__main__":
    unittest.main()
