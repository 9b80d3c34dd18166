"""The operator's tools against a running daemon: stats (table, JSON,
watch), dead letters, pause and resume, scheduled sending, and the service
files in etc/."""

import json
import os
import pty
import re
import select
import shutil
import signal
import socket
import subprocess
import time
import unittest

from harness import DaemonTestCase, ROOT, peers

STATS_KEYS = {"version", "queue", "time", "paused", "queued", "in_flight", "delayed",
              "next_due", "dead_letters", "counters", "registered_workers", "workers",
              "ses_pause", "ses_account", "server"}
COUNTER_NAMES = {"sent", "retried", "dead", "recovered", "duplicates_skipped"}
WORKER_KEYS = {"id", "host", "master_pid", "slot", "generation", "alive", "heartbeat_ttl_ms",
               "in_flight", "job", "since"}
DEAD_LETTER_KEYS = {"id", "reason", "code", "attempts", "failed_at", "retryable", "job",
                    "job_base64"}


def now_ms():
    return int(time.time() * 1000)


class OperatorTestCase(DaemonTestCase):
    def run_ok(self, *args):
        result = self.cli(*args)
        self.assertEqual(result.returncode, 0, result.stderr)
        return result.stdout

    def stats_json(self, config):
        return json.loads(self.run_ok("stats", "--config", config, "--json"))

    def sent_event(self, job_id):
        for event in peers.sent_events(self.client, self.queue):
            if event["job"] == job_id:
                return event
        return None


class Stats(OperatorTestCase):
    def test_json_shows_every_count_and_the_job_each_worker_holds(self):
        stub = self.stub()
        stub.configure(delay_ms=2000)
        config = self.config(ses_endpoint=stub.url, workers=2, send_timeout="5s",
                             heartbeat_timeout="10s")
        daemon = self.daemon(config)
        held = self.enqueue(config, to="a@example.org", subject="s", text="t")
        stats = peers.wait_until(
            "a worker holds the job",
            lambda: next((s for s in [self.stats_json(config)]
                          if any(w["job"] == held for w in s["workers"])), None), 20)

        self.assertEqual(set(stats), STATS_KEYS)
        self.assertEqual(stats["version"], 1)
        self.assertEqual(stats["queue"], self.queue)
        self.assertLess(abs(stats["time"] - now_ms()), 5000)
        self.assertIsNone(stats["paused"])
        self.assertEqual(stats["in_flight"], 1)
        self.assertEqual(set(stats["counters"]), COUNTER_NAMES)
        for name, counter in stats["counters"].items():
            self.assertEqual(set(counter), {"total", "last_minute"}, name)
        self.assertEqual(stats["registered_workers"], 2)
        self.assertEqual(len(stats["workers"]), 2)
        for worker in stats["workers"]:
            self.assertEqual(set(worker), WORKER_KEYS)
            self.assertEqual(worker["id"], "%s:%d:%d.%d" % (
                worker["host"], worker["master_pid"], worker["slot"], worker["generation"]))
            self.assertEqual(worker["master_pid"], daemon.pid)
            self.assertEqual(worker["generation"], 1)
            self.assertTrue(worker["alive"])
            self.assertGreater(worker["heartbeat_ttl_ms"], 0)
            self.assertIsNone(worker["since"])
        self.assertEqual(sorted(w["slot"] for w in stats["workers"]), [0, 1])
        self.assertEqual(socket.gethostname().split(".")[0],
                         stats["workers"][0]["host"].split(".")[0])
        holder = [w for w in stats["workers"] if w["job"] == held][0]
        self.assertEqual(holder["in_flight"], 1)

        self.wait_stats("the job is sent", lambda s: s.get("sent", 0) == 1)
        self.enqueue(config, to="b@example.org", subject="s", text="t")
        self.wait_stats("the second job is sent", lambda s: s.get("sent", 0) == 2)
        stats = self.stats_json(config)
        self.assertEqual(stats["counters"]["sent"], {"total": 2, "last_minute": 2})
        self.assertEqual(stats["counters"]["retried"], {"total": 0, "last_minute": 0})
        self.assertEqual(stats["counters"]["recovered"], {"total": 0, "last_minute": None})
        self.assertEqual(stats["in_flight"], 0)
        self.assertEqual(stats["queued"], 0)

    def test_the_table_names_each_part_of_the_queue(self):
        stub = self.stub()
        config = self.config(ses_endpoint=stub.url)
        self.daemon(config)
        self.enqueue(config, to="a@example.org", subject="s", text="t")
        self.enqueue(config, to="b@example.org", subject="s", text="t",
                     send_at=str(now_ms() + 3_600_000))
        self.wait_stats("the first job is sent", lambda s: s.get("sent", 0) == 1)
        text = self.run_ok("stats", "--config", config)
        self.assertIn("queue %s at " % self.queue, text)
        for label in ("sending", "queued", "in flight", "delayed", "dead letters", "sent",
                      "retried", "recovered", "duplicates skipped", "workers: 2 registered"):
            self.assertIn(label, text)
        self.assertRegex(text, r"delayed\s+1, next due in 59m5\ds")
        self.assertRegex(text, r"\nsent\s+1\s+1\n")
        self.assertRegex(text, r"\nrecovered\s+0\s+-\n")
        self.assertTrue(all(len(line) <= 100 for line in text.splitlines()), text)

    def test_watch_appends_one_json_object_per_refresh_when_not_on_a_terminal(self):
        config = self.config()
        proc = subprocess.Popen([peers.binary(), "stats", "--config", config, "--json",
                                 "--watch", "0.2"], stdout=subprocess.PIPE, text=True)
        try:
            first = json.loads(proc.stdout.readline())
            second = json.loads(proc.stdout.readline())
        finally:
            proc.kill()
            proc.wait()
        self.assertEqual(set(first), STATS_KEYS)
        self.assertGreaterEqual(second["time"] - first["time"], 150)

    def test_watch_redraws_in_place_on_a_terminal(self):
        config = self.config()
        pid, fd = pty.fork()
        if pid == 0:
            os.execv(peers.binary(), [peers.binary(), "stats", "--config", config,
                                      "--watch", "0.2"])
        output = b""
        try:
            deadline = time.monotonic() + 15
            while output.count(b"\x1b[H") < 3 and time.monotonic() < deadline:
                ready, _, _ = select.select([fd], [], [], 0.2)
                if ready:
                    output += os.read(fd, 65536)
        finally:
            os.kill(pid, signal.SIGINT)
            os.waitpid(pid, 0)
            os.close(fd)
        self.assertTrue(output.startswith(b"\x1b[2J\x1b[H"), output[:40])
        self.assertGreaterEqual(output.count(b"\x1b[H"), 3)
        self.assertEqual(output.count(b"\x1b[2J"), 1)
        self.assertIn(b"\x1b[K", output)
        self.assertIn(b"every 0.2s; Ctrl-C to stop", output)

    def test_an_unreachable_redis_fails_with_exit_1(self):
        config = self.config(redis="127.0.0.1:%d" % peers.free_port(), connect_timeout="1s")
        result = self.cli("stats", "--config", config)
        self.assertEqual(result.returncode, 1)
        self.assertIn("cannot connect to Redis", result.stderr)
        result = self.cli("stats", "--config", config, "--watch", "soon")
        self.assertEqual(result.returncode, 2)


class ScheduledSending(OperatorTestCase):
    def test_a_scheduled_job_goes_out_within_a_second_of_its_time(self):
        stub = self.stub()
        config = self.config(ses_endpoint=stub.url)
        self.daemon(config)
        due = now_ms() + 3000
        as_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(due // 1000))
        as_text += ".%03dZ" % (due % 1000)
        early = self.enqueue(config, to="a@example.org", subject="s", text="t", send_at=as_text)
        later = self.enqueue(config, to="b@example.org", subject="s", text="t",
                             send_at=str(due + 1000))
        stats = self.stats_json(config)
        self.assertEqual(stats["delayed"], 2)
        self.assertEqual(stats["next_due"], due)
        self.assertEqual(stats["queued"], 0)

        event = peers.wait_until("the first is sent", lambda: self.sent_event(early), 15)
        started = event["started"] * 1000
        self.assertGreaterEqual(started, due - 5)
        self.assertLess(started, due + 1000)
        event = peers.wait_until("the second is sent", lambda: self.sent_event(later), 15)
        self.assertGreaterEqual(event["started"] * 1000, due + 1000 - 5)
        self.assertLess(event["started"] * 1000, due + 2000)
        self.assertEqual(len(stub.sent()), 2)

    def test_a_scheduled_job_survives_a_restart_of_the_daemon(self):
        stub = self.stub()
        config = self.config(ses_endpoint=stub.url)
        daemon = self.daemon(config)
        due = now_ms() + 2500
        job = self.enqueue(config, to="a@example.org", subject="s", text="t", send_at=str(due))
        self.assertEqual(daemon.stop(signal.SIGTERM), 0)
        peers.wait_until("the time has passed", lambda: now_ms() > due + 200, 10)
        self.assertEqual(self.stats()["delayed"], 1)
        self.assertEqual(stub.sent(), [])
        self.track(peers.Daemon(config, os.path.join(self.work, "master2.out"), self.env()))
        peers.wait_until("the job is sent", lambda: self.sent_event(job), 30)

    def test_a_bad_send_at_time_is_refused_before_anything_is_pushed(self):
        config = self.config()
        result = self.cli("enqueue", "--config", config, "--to", "a@example.org",
                          "--subject", "s", "--text", "t", "--send-at", "next tuesday")
        self.assertEqual(result.returncode, 2)
        self.assertIn("--send-at: invalid time \"next tuesday\"", result.stderr)
        self.assertEqual(self.stats()["delayed"], 0)

    def test_jsonl_jobs_can_be_scheduled_together(self):
        config = self.config()
        path = os.path.join(self.work, "jobs.jsonl")
        with open(path, "w") as f:
            for i in range(3):
                f.write(json.dumps({"id": "same", "email": {"to": ["a@example.org"],
                                                            "subject": "s", "text": "t"}}) + "\n")
        self.run_ok("enqueue", "--config", config, "--jsonl", path, "--send-at",
                    "2099-01-01T00:00:00Z")
        members = self.client.zrange("hworker:{%s}:delayed" % self.queue, 0, -1, withscores=True)
        self.assertEqual(len(members), 3)
        for member, score in members:
            self.assertRegex(member[:17].decode(), r"^[0-9a-f]{16}:$")
            self.assertEqual(json.loads(member[17:])["id"], "same")
            self.assertEqual(score, 4070908800000)


class DeadLetters(OperatorTestCase):
    def rejected_job(self, stub, config, to):
        stub.configure(fail_next=["MessageRejected"])
        before = self.stats().get("dead", 0)
        job = self.enqueue(config, to=to, subject="s", text="t")
        self.wait_stats("the job is dead", lambda s: s.get("dead", 0) == before + 1)
        return job

    def test_list_show_retry_and_purge(self):
        stub = self.stub()
        config = self.config(ses_endpoint=stub.url, workers=1)
        self.daemon(config)
        first = self.rejected_job(stub, config, "a@example.org")
        self.client.lpush("hworker:{%s}:queue" % self.queue, b"\xff\xfebinary junk")
        self.wait_stats("the junk is dead", lambda s: s.get("dead", 0) == 2)

        listing = json.loads(self.run_ok("dead", "list", "--config", config, "--json"))
        self.assertEqual(set(listing), {"version", "queue", "total", "dead_letters"})
        self.assertEqual((listing["version"], listing["queue"], listing["total"]),
                         (1, self.queue, 2))
        junk, rejected = listing["dead_letters"]
        for letter in (junk, rejected):
            self.assertEqual(set(letter), DEAD_LETTER_KEYS)
        self.assertEqual(rejected["id"], first)
        self.assertEqual(rejected["code"], "MessageRejected")
        self.assertEqual(rejected["attempts"], 1)
        self.assertTrue(rejected["retryable"])
        self.assertEqual(json.loads(rejected["job"])["id"], first)
        self.assertIsNone(rejected["job_base64"])
        self.assertFalse(junk["retryable"])
        self.assertIsNone(junk["job"])
        self.assertEqual(junk["code"], "malformed")
        self.assertLess(abs(junk["failed_at"] - now_ms()), 30_000)
        limited = json.loads(self.run_ok("dead", "list", "--config", config, "--json",
                                         "--limit", "1"))
        self.assertEqual([d["id"] for d in limited["dead_letters"]], [junk["id"]])
        self.assertEqual(limited["total"], 2)

        table = self.run_ok("dead", "list", "--config", config)
        self.assertIn("queue %s: 2 dead letters" % self.queue, table)
        self.assertRegex(table, re.escape(first) + r"\s+1\s+MessageRejected")
        shown = json.loads(self.run_ok("dead", "show", first, "--config", config, "--json"))
        self.assertEqual(shown, rejected)
        options_first = self.run_ok("dead", "--config", config, "--json", "show", first)
        self.assertEqual(json.loads(options_first), rejected)
        text = self.run_ok("dead", "show", first, "--config", config)
        self.assertIn("code:       MessageRejected", text)
        self.assertIn('"id":"%s"' % first, text)
        missing = self.cli("dead", "show", "no-such-id", "--config", config)
        self.assertEqual(missing.returncode, 1)
        self.assertIn('no dead letter with id "no-such-id"', missing.stderr)

        out = self.run_ok("dead", "retry", first, "--config", config)
        self.assertIn("requeued %s on queue %s" % (first, self.queue), out)
        self.assertIn("attempts reset", out)
        self.wait_stats("the requeued job is sent", lambda s: s.get("sent", 0) == 1)
        self.assertEqual(self.sent_event(first)["job"], first)
        refused = self.cli("dead", "retry", junk["id"], "--config", config)
        self.assertEqual(refused.returncode, 1)
        self.assertIn("cannot be retried: its job is not UTF-8 text", refused.stderr)

        second = self.rejected_job(stub, config, "b@example.org")
        third = self.rejected_job(stub, config, "c@example.org")
        out = self.run_ok("dead", "retry", "--all", "--config", config)
        self.assertIn("requeued %s\nrequeued %s\n" % (second, third), out)
        self.assertIn("requeued 2 dead letters on queue %s; kept 1" % self.queue, out)
        self.assertIn(junk["id"], out)
        self.wait_stats("the requeued jobs are sent", lambda s: s.get("sent", 0) == 3)

        refused = self.cli("dead", "purge", "--config", config)
        self.assertEqual(refused.returncode, 2)
        self.assertIn("--yes", refused.stderr)
        out = self.run_ok("dead", "purge", "--yes", "--config", config)
        self.assertEqual(out, "purged 1 dead letter from queue %s\n" % self.queue)
        self.assertEqual(json.loads(self.run_ok("dead", "list", "--config", config,
                                                "--json"))["total"], 0)

    def test_usage_errors_exit_2(self):
        config = self.config()
        for args in (["dead"], ["dead", "bury"], ["dead", "retry"], ["dead", "retry", "x", "--all"],
                     ["dead", "list", "--limit", "many"]):
            with self.subTest(args=args):
                result = self.cli(*(args + ["--config", config]))
                self.assertEqual(result.returncode, 2, result.stderr)


class PauseAndResume(OperatorTestCase):
    def test_pause_sets_the_flag_that_stats_shows_and_resume_clears_it(self):
        stub = self.stub()
        config = self.config(ses_endpoint=stub.url)
        self.daemon(config)
        out = self.run_ok("pause", "--config", config, "--reason", "SES account review")
        self.assertIn("paused sending on queue %s (reason: SES account review)" % self.queue, out)
        flag = json.loads(self.client.get("hworker:{%s}:paused" % self.queue))
        self.assertEqual(flag["reason"], "SES account review")
        self.assertLess(abs(flag["paused_at"] - now_ms()), 5000)

        paused = self.stats_json(config)["paused"]
        self.assertEqual(paused, {"reason": "SES account review",
                                  "paused_at": flag["paused_at"]})
        self.assertRegex(self.run_ok("stats", "--config", config),
                         r"sending\s+PAUSED since \S+Z \(.+ ago\): SES account review")
        self.enqueue(config, to="a@example.org", subject="s", text="t")

        out = self.run_ok("resume", "--config", config)
        self.assertIn("resumed sending on queue %s (paused since " % self.queue, out)
        self.assertIsNone(self.client.get("hworker:{%s}:paused" % self.queue))
        self.assertIsNone(self.stats_json(config)["paused"])
        self.assertIn("was not paused", self.run_ok("resume", "--config", config))

        self.assertNotIn("already paused", self.run_ok("pause", "--config", config))
        self.assertIn("already paused", self.run_ok("pause", "--config", config))
        self.assertIsNone(self.stats_json(config)["paused"]["reason"])

    def test_paused_workers_take_no_jobs_until_resumed(self):
        stub = self.stub()
        config = self.config(ses_endpoint=stub.url)
        self.daemon(config)
        self.run_ok("pause", "--config", config)
        time.sleep(3)  # workers notice the flag at their next take
        self.enqueue(config, to="a@example.org", subject="s", text="t")
        time.sleep(2)
        self.assertEqual(self.stats()["queued"], 1)
        self.assertEqual(stub.sent(), [])
        self.run_ok("resume", "--config", config)
        self.wait_stats("the job is sent", lambda s: s.get("sent", 0) == 1)


class ServiceFiles(DaemonTestCase):
    def unit(self):
        with open(os.path.join(ROOT, "etc", "hworker-ses.service")) as f:
            return f.read()

    def test_the_unit_stops_gracefully_reloads_and_does_not_restart_on_a_bad_config(self):
        unit = self.unit()
        settings = dict(re.findall(r"^(\w+)=(.*)$", unit, re.M))
        self.assertEqual(settings["Type"], "simple")
        self.assertRegex(settings["ExecStart"], r"hworker-ses run --config \S+")
        self.assertEqual(settings["ExecReload"], "/bin/kill -HUP $MAINPID")
        self.assertEqual(settings["KillMode"], "mixed")
        self.assertEqual(settings["KillSignal"], "SIGTERM")
        self.assertEqual(settings["Restart"], "on-failure")
        self.assertEqual(settings["RestartPreventExitStatus"], "78")
        drain = 30  # the default drain_deadline
        self.assertGreater(int(settings["TimeoutStopSec"]), drain + 5)
        for option in ("PrivateIPC", "RemoveIPC", "InaccessiblePaths"):
            self.assertNotIn(option, settings, "would break the rate segment in /dev/shm")

    @unittest.skipUnless(shutil.which("systemd-analyze"), "systemd-analyze is not installed")
    def test_systemd_accepts_the_unit(self):
        path = os.path.join(self.work, "hworker-ses.service")
        with open(path, "w") as f:
            f.write(self.unit().replace("/usr/local/bin/hworker-ses", peers.binary()))
        result = subprocess.run(["systemd-analyze", "verify", path], capture_output=True,
                                text=True, timeout=60)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stderr.strip(), "")

    @unittest.skipUnless(shutil.which("logrotate"), "logrotate is not installed")
    def test_logrotate_makes_the_master_and_its_children_reopen_the_log(self):
        stub = self.stub()
        pidfile = os.path.join(self.work, "master.pid")
        config = self.config(ses_endpoint=stub.url, pidfile=pidfile)
        self.daemon(config)
        log = os.path.join(self.work, "daemon.log")
        with open(os.path.join(ROOT, "etc", "hworker-ses.logrotate")) as f:
            snippet = f.read()
        snippet = (snippet.replace("/var/log/hworker-ses/*.log", log)
                   .replace("/run/hworker-ses/hworker-ses.pid", pidfile)
                   .replace("    su hworker-ses hworker-ses\n", "")
                   .replace("create 0640 hworker-ses hworker-ses", "create 0640"))
        conf = os.path.join(self.work, "logrotate.conf")
        with open(conf, "w") as f:
            f.write(snippet)
        result = subprocess.run(["logrotate", "-f", "-s", os.path.join(self.work, "lr.state"),
                                 conf], capture_output=True, text=True, timeout=60)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("worker ready", open(log + ".1").read())
        job = self.enqueue(config, to="a@example.org", subject="s", text="t")
        peers.wait_until("the worker writes to the new file",
                         lambda: "job.id=%s" % job in self.log(), 20)
        self.assertNotIn("job.id=%s" % job, open(log + ".1").read())


if __name__ == "__main__":
    unittest.main()
