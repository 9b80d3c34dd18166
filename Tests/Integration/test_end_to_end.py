"""The first milestone end to end: queue, SES wire protocol, master,
workers and monitor, against real Redis, moto and the project's SES stub."""

import json
import os
import shutil
import signal
import subprocess
import time
import unittest

from harness import DaemonTestCase, SENDER, peers

import mailcheck


class EveryJobFieldReachesMoto(DaemonTestCase):
    """Jobs with every field go through moto with signature checking on."""

    def test_every_kind_of_job_arrives_with_its_fields(self):
        moto = self.track(peers.Moto(self.work, mailcheck.SENDER))
        config = self.config(ses_endpoint=moto.url, rate=200, workers=3,
                             **{"from": "Shop <%s>" % mailcheck.SENDER})
        self.daemon(config, self.env(moto.access_key_id, moto.secret_access_key))
        jobs = [mailcheck.make_job(i) for i in range(21)]
        lines = "\n".join(json.dumps({k: j[k] for k in ("id", "email", "payload")}) for j in jobs)
        path = os.path.join(self.work, "jobs.jsonl")
        open(path, "w").write(lines + "\n")
        result = self.cli("enqueue", "--config", config, "--jsonl", path)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.wait_stats("all are sent", lambda s: s.get("sent", 0) == len(jobs), 60)

        events = {e["job"]: e for e in peers.sent_events(self.client, self.queue)}
        data = moto.messages()
        records = {r["id"]: ("Message", r) for r in data.get("Message", [])}
        records.update({r["id"]: ("RawMessage", r) for r in data.get("RawMessage", [])})
        for job in jobs:
            with self.subTest(job=job["id"]):
                event = events[job["id"]]
                self.assertEqual(event["payload"], job["payload"])
                kind, record = records[event["message_id"]]
                self.assertEqual(mailcheck.check_message(job, record, kind), [])
                result = json.loads(self.client.get("hworker:{%s}:result:%s" % (self.queue, job["id"])))
                self.assertEqual(result["message_id"], event["message_id"])

    def test_a_wrong_secret_pauses_instead_of_dead_lettering(self):
        moto = self.track(peers.Moto(self.work, mailcheck.SENDER))
        config = self.config(ses_endpoint=moto.url, **{"from": mailcheck.SENDER})
        self.daemon(config, self.env(moto.access_key_id, "not-the-secret"))
        self.enqueue(config, to="a@example.org", subject="s", text="t")
        self.wait_stats("the send is retried", lambda s: s.get("retried", 0) >= 1)
        stats = self.stats()
        self.assertEqual(stats.get("dead", 0), 0)
        self.assertEqual(stats["delayed"], 1)
        self.assertIn("sending refused by SES", self.log())


class HttpsEndpoint(DaemonTestCase):
    """SES over TLS: the stub serves https with a certificate from a private authority,
    which the daemon trusts through OpenSSL's SSL_CERT_FILE or SSL_CERT_DIR."""

    def send_five_over_tls(self, tls, **trust):
        stub = self.stub(tls=tls)
        config = self.config(ses_endpoint=stub.url)
        env = self.env()
        env.pop("SSL_CERT_FILE", None)  # some machines set both for every program
        env.pop("SSL_CERT_DIR", None)
        env.update(trust)
        self.daemon(config, env)
        for i in range(5):
            self.enqueue(config, to="r%d@example.org" % i, subject="tls %d" % i, text="t")
        self.wait_stats("all are sent", lambda s: s.get("sent", 0) == 5)
        self.assertEqual(sorted(m["subject"] for m in stub.sent()),
                         ["tls %d" % i for i in range(5)])

    def test_jobs_are_sent_over_tls_verified_with_a_certificate_file(self):
        tls = peers.Certificates(self.work)
        self.send_five_over_tls(tls, SSL_CERT_FILE=tls.authority)

    def test_jobs_are_sent_over_tls_verified_with_a_hashed_directory(self):
        tls = peers.Certificates(self.work)
        directory = os.path.join(self.work, "trusted")
        os.makedirs(directory)
        shutil.copy(tls.authority, directory)
        subprocess.run(["openssl", "rehash", directory], check=True, capture_output=True)
        self.send_five_over_tls(tls, SSL_CERT_DIR=directory)

    def test_an_untrusted_certificate_pauses_sending_and_keeps_the_job(self):
        tls = peers.Certificates(self.work)
        stub = self.stub(tls=tls)
        config = self.config(ses_endpoint=stub.url, account_check="off")
        env = self.env()
        env.pop("SSL_CERT_FILE", None)  # the system's certificates, as on a server
        env.pop("SSL_CERT_DIR", None)
        self.daemon(config, env)
        self.enqueue(config, to="a@example.org", subject="s", text="t")
        self.wait_stats("the send is put off", lambda s: s.get("retried", 0) >= 1)
        self.assertEqual(stub.sent(), [])
        stats = self.stats()
        self.assertEqual((stats.get("dead", 0), stats["delayed"]), (0, 1))
        self.assertEqual(self.client.hvals("hworker:{%s}:attempts" % self.queue), [],
                         "no attempt is used up")
        self.assertIn("SES's certificate is not trusted; sending paused", self.log())
        self.assertIn("certificate verify failed", self.log())
        paused = self.cli("stats", "--config", config, "--json")
        self.assertIn("certificate verify failed", paused.stdout)


class QueueBehaviour(DaemonTestCase):
    """Against the project's SES stub, which checks signatures like SES."""

    def test_malformed_jobs_are_dead_lettered_while_the_others_are_sent(self):
        stub = self.stub()
        config = self.config(ses_endpoint=stub.url)
        self.daemon(config)
        key = "hworker:{%s}:queue" % self.queue
        self.client.lpush(key, b"\xff\xfebinary junk")
        self.client.lpush(key, json.dumps({"id": "no-recipients", "email": {"subject": "s", "text": "t"}}))
        self.client.lpush(key, json.dumps({"id": "bad-type", "email": {"to": "a@example.org"}}))
        for i in range(10):
            self.enqueue(config, to="user%d@example.org" % i, subject="hello %d" % i, text="t")
        self.wait_stats("all end", lambda s: s.get("sent", 0) + s.get("dead", 0) == 13)
        self.assertEqual(self.stats().get("sent"), 10)
        letters = {d["id"]: d for d in self.dead_letters()}
        self.assertIn("at least one recipient", letters["no-recipients"]["reason"])
        self.assertEqual(letters["no-recipients"]["code"], "invalid")
        self.assertIn("email.to: expected a list", letters["bad-type"]["reason"])
        junk = [d for d in letters.values() if "job_base64" in d]
        self.assertEqual(len(junk), 1)
        self.assertIn("not valid UTF-8", junk[0]["reason"])
        self.assertEqual(len(stub.sent()), 10)

    def test_configuration_set_tags_and_reply_to_reach_ses_in_the_request(self):
        stub = self.stub("--configuration-sets", "marketing")
        config = self.config(ses_endpoint=stub.url)
        self.daemon(config)
        self.enqueue(config, to="a@example.org", cc="c@example.org", bcc="b@example.org",
                     reply_to="help@example.com", subject="Tagged ✓", text="t", html="<p>h</p>",
                     configuration_set="marketing", tag=["campaign=spring", "tier=gold"])
        self.wait_stats("the job is sent", lambda s: s.get("sent", 0) == 1)
        message = stub.sent()[0]
        self.assertEqual(message.get("configuration_set"), "marketing")
        self.assertEqual(sorted((t["Name"], t["Value"]) for t in message["tags"]),
                         [("campaign", "spring"), ("tier", "gold")])
        self.assertEqual(message.get("reply_to"), ["help@example.com"])
        self.assertEqual(message.get("subject"), "Tagged ✓")
        self.assertEqual(sorted(message["to"] + message["cc"] + message["bcc"]),
                         ["a@example.org", "b@example.org", "c@example.org"])

    def test_permanent_errors_are_dead_lettered_with_the_ses_code(self):
        stub = self.stub()
        stub.configure(fail_next=["MessageRejected"])
        config = self.config(ses_endpoint=stub.url, workers=1)
        self.daemon(config)
        job = self.enqueue(config, to="a@example.org", subject="s", text="t")
        self.wait_stats("the job is dead", lambda s: s.get("dead", 0) == 1)
        letter = self.dead_letters()[0]
        self.assertEqual(letter["id"], job)
        self.assertEqual(letter["code"], "MessageRejected")
        self.assertEqual(letter["attempts"], 1)

    def test_transient_errors_are_retried_then_sent(self):
        stub = self.stub()
        stub.configure(fail_next=["InternalFailure", "ServiceUnavailable"])
        config = self.config(ses_endpoint=stub.url, workers=1, max_attempts=5)
        self.daemon(config)
        self.enqueue(config, to="a@example.org", subject="s", text="t")
        self.wait_stats("the job is sent", lambda s: s.get("sent", 0) == 1)
        self.assertEqual(self.stats().get("retried"), 2)
        self.assertEqual(len(stub.sent()), 1)

    def test_a_job_that_keeps_failing_becomes_a_dead_letter_after_the_last_attempt(self):
        stub = self.stub()
        stub.configure(fail_next=["InternalFailure"] * 3)
        config = self.config(ses_endpoint=stub.url, workers=1, max_attempts=3)
        self.daemon(config)
        self.enqueue(config, to="a@example.org", subject="s", text="t")
        self.wait_stats("the job is dead", lambda s: s.get("dead", 0) == 1)
        letter = self.dead_letters()[0]
        self.assertEqual(letter["attempts"], 3)
        self.assertEqual(letter["code"], "InternalFailure")

    def test_throttling_is_retried_without_using_attempts(self):
        stub = self.stub()
        stub.configure(fail_next=["Throttling", "Throttling", "Throttling"])
        config = self.config(ses_endpoint=stub.url, workers=1, max_attempts=1)
        self.daemon(config)
        self.enqueue(config, to="a@example.org", subject="s", text="t")
        self.wait_stats("the job is sent", lambda s: s.get("sent", 0) == 1)
        self.assertEqual(self.stats().get("dead", 0), 0)

    def test_a_worker_killed_mid_send_has_its_job_sent_by_another_worker(self):
        stub = self.stub()
        stub.configure(delay_ms=3000)
        config = self.config(ses_endpoint=stub.url, workers=2)
        daemon = self.daemon(config)
        peers.wait_until("both workers are ready", lambda: self.log_count("worker ready") == 2)
        job = self.enqueue(config, to="a@example.org", subject="killed mid send", text="t")
        holder = peers.wait_until("a worker holds the job", lambda: self._holder(daemon), 10)
        time.sleep(0.5)  # the SES request is now in progress (the stub answers after 3 s)
        os.kill(holder, signal.SIGKILL)
        stub.configure(delay_ms=0)
        self.wait_stats("the job is sent", lambda s: s.get("sent", 0) == 1, 30)
        stats = self.stats()
        self.assertEqual(stats["queued"] + stats["in_flight"] + stats["delayed"], 0)
        self.assertIn("returned the dead worker's jobs to the queue", self.log())
        accepted = [m for m in stub.sent() if m.get("subject") == "killed mid send"]
        self.assertGreaterEqual(len(accepted), 1)
        event = peers.sent_events(self.client, self.queue)[0]
        self.assertEqual(event["job"], job)
        peers.wait_until("the worker is restarted", lambda: len(daemon.workers()) == 2, 10)

    def _holder(self, daemon):
        """The PID of the worker whose in-flight list holds a job."""
        for key in self.client.scan_iter(match="hworker:{%s}:inflight:*" % self.queue):
            if self.client.llen(key):
                slot = key.decode().rsplit(":", 1)[1].split(".")[0]
                for line in self.log().splitlines():
                    if 'msg="child started"' in line and "child.role=worker child.slot=%s " % slot in line:
                        pid = int(line.split("child.pid=")[1].split()[0])
                if pid in daemon.workers():
                    return pid
        return None

    def test_sigterm_finishes_sends_in_hand_and_leaves_the_rest_queued(self):
        stub = self.stub()
        stub.configure(delay_ms=1500)
        config = self.config(ses_endpoint=stub.url, workers=2)
        daemon = self.daemon(config)
        for i in range(6):
            self.enqueue(config, to="u%d@example.org" % i, subject="drain %d" % i, text="t")
        self.wait_stats("two sends are in hand", lambda s: s["in_flight"] == 2)
        time.sleep(0.3)
        self.assertEqual(daemon.stop(signal.SIGTERM, timeout=20), 0)
        stats = self.stats()
        self.assertEqual(stats.get("sent"), 2)
        self.assertEqual(stats["queued"], 4)
        self.assertEqual(stats["in_flight"], 0)
        self.assertEqual(self.client.scard("hworker:{%s}:workers" % self.queue), 0)
        self.assertFalse([n for n in os.listdir("/dev/shm") if ".%d" % daemon.pid in n])

    def test_no_one_second_window_exceeds_the_rate(self):
        stub = self.stub()
        config = self.config(ses_endpoint=stub.url, workers=4, rate=20)
        self.daemon(config)
        jobs = [json.dumps({"id": "r%d" % i, "email": {"to": ["u%d@example.org" % i] * 1,
                                                      "subject": "rate", "text": "t"}})
                for i in range(70)]
        path = os.path.join(self.work, "jobs.jsonl")
        open(path, "w").write("\n".join(jobs))
        self.assertEqual(self.cli("enqueue", "--config", config, "--jsonl", path).returncode, 0)
        self.wait_stats("all are sent", lambda s: s.get("sent", 0) == 70, 30)
        events = peers.sent_events(self.client, self.queue)
        self.assertLessEqual(peers.largest_window(events), 20)
        self.assertLessEqual(stub.stats()["max_recipients_in_1s_window"], 20)


class Configuration(DaemonTestCase):
    def test_a_broken_config_is_rejected_with_file_line_and_key(self):
        cases = [("workers = many\n", 2, "workers", "expected a whole number"),
                 ("wrkers = 2\n", 2, "wrkers", "unknown key"),
                 ("rate = -1\n", 2, "rate", "-1 is out of range")]
        for text, line, key, reason in cases:
            with self.subTest(key=key):
                path = os.path.join(self.work, "broken.conf")
                open(path, "w").write("queue = q\n" + text + 'from = a@example.com\nregion = us-east-1\n')
                for command in (["check-config", path], ["run", "--config", path]):
                    result = self.cli(*command)
                    self.assertEqual(result.returncode, 78)
                    self.assertIn("%s:%d: %s: %s" % (path, line, key, reason), result.stderr)

    def test_a_missing_required_key_is_named(self):
        path = os.path.join(self.work, "missing.conf")
        open(path, "w").write("queue = q\nregion = us-east-1\nrate = 5\n")
        result = self.cli("check-config", path)
        self.assertEqual(result.returncode, 78)
        self.assertIn("%s: from: required key is missing" % path, result.stderr)

    def test_run_help_documents_every_signal_and_exit_code(self):
        result = self.cli("run", "--help")
        self.assertEqual(result.returncode, 0)
        for word in ("TERM", "INT", "QUIT", "HUP", "TTIN", "TTOU", "USR1"):
            self.assertRegex(result.stdout, r"\b%s\b" % word)
        for code in ("0", "1", "2", "78"):
            self.assertRegex(result.stdout, r"(?m)^\s+%s\s+\S" % code)

    def test_log_format_json_on_the_command_line_gives_json_lines(self):
        import json
        stub = self.stub()
        config = self.config(ses_endpoint=stub.url)
        args = [peers.binary(), "run", "--config", config, "--log-format", "json"]
        proc = self.track(peers.Peer(args, os.path.join(self.work, "json.out"), self.env()))
        peers.wait_until("a worker is ready", lambda: '"worker ready"' in self.log(), 20)
        proc.stop()
        for line in self.log().splitlines():
            self.assertIn("msg", json.loads(line))

    def test_the_example_configuration_is_valid(self):
        result = self.cli("check-config", os.path.join(peers.ROOT, "etc", "hworker-ses.conf"))
        self.assertEqual(result.returncode, 0, result.stderr)


if __name__ == "__main__":
    unittest.main()
