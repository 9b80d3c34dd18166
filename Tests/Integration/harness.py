"""Shared set-up for the integration tests: a work directory, a private
Redis, an SES peer (the project's stub or moto) and the daemon, all on
loopback and all stopped by PID when the test ends."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))

import peers  # noqa: E402

SENDER = "app@example.com"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzSECRETzz"
KEY_ID = "AKIDINTEGRATIONTEST1"


class DaemonTestCase(unittest.TestCase):
    """A test with a private Redis; subclasses add an SES peer and daemons."""

    queue = "itest"

    def setUp(self):
        self.work = tempfile.mkdtemp(prefix="hworker-itest-")
        self.peers = []
        self.redis = self.track(peers.Redis(self.work))
        self.client = self.redis.client

    def tearDown(self):
        for peer in reversed(self.peers):
            try:
                peer.stop(signal.SIGKILL if isinstance(peer, peers.Daemon) else signal.SIGTERM)
            except Exception:
                pass
        if not getattr(self, "_keep", False):
            shutil.rmtree(self.work, ignore_errors=True)

    def track(self, peer):
        self.peers.append(peer)
        return peer

    def stub(self, *flags, tls=None):
        """The SES stub (over https with `tls`, a peers.Certificates); injected faults hit
        sends only, not the monitor's account checks."""
        stub = self.track(peers.SESStub(self.work, "--secret", "%s:%s" % (KEY_ID, SECRET_KEY),
                                        *flags, tls=tls))
        stub.configure(fault_ops="send")
        return stub

    def config(self, name="hworker-ses.conf", **keys):
        values = dict(queue=self.queue, redis=self.redis.address, workers=2, monitors=1, rate=100,
                      region="us-east-1", max_attempts=3, retry_base="200ms", retry_max="1s",
                      throttle_delay="200ms", drain_deadline="10s", heartbeat_timeout="3s", send_timeout="2s",
                      log_file=os.path.join(self.work, "daemon.log"))
        values["from"] = SENDER
        values.update(keys)
        return peers.write_config(os.path.join(self.work, name), **values)

    def env(self, key_id=KEY_ID, secret=SECRET_KEY):
        env = dict(os.environ, AWS_ACCESS_KEY_ID=key_id, AWS_SECRET_ACCESS_KEY=secret)
        env.pop("AWS_PROFILE", None)
        env.pop("AWS_SESSION_TOKEN", None)
        return env

    def daemon(self, config, env=None):
        daemon = self.track(peers.Daemon(config, os.path.join(self.work, "master.out"),
                                         env or self.env()))
        peers.wait_until("workers are ready", lambda: self.log_count("worker ready") >= 1, 30)
        return daemon

    def log(self):
        path = os.path.join(self.work, "daemon.log")
        return open(path, errors="replace").read() if os.path.exists(path) else ""

    def log_count(self, message):
        return self.log().count('msg="%s"' % message) + self.log().count("msg=%s " % message)

    def stats(self):
        return peers.queue_stats(self.client, self.queue)

    def cli(self, *args, stdin=None):
        return subprocess.run([peers.binary()] + list(args), input=stdin, capture_output=True,
                              text=True, env=self.env(), timeout=60)

    def enqueue(self, config, **flags):
        args = ["enqueue", "--config", config]
        for key, value in flags.items():
            for item in value if isinstance(value, list) else [value]:
                args += ["--" + key.replace("_", "-"), item]
        result = self.cli(*args)
        self.assertEqual(result.returncode, 0, result.stderr)
        return result.stdout.strip()

    def wait_stats(self, what, condition, timeout=30):
        return peers.wait_until(what, lambda: condition(self.stats()), timeout)

    def dead_letters(self):
        import json
        return [json.loads(x) for x in self.client.lrange("hworker:{%s}:dead" % self.queue, 0, -1)]
