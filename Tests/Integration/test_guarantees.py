"""Delivery guarantees at the edges: a worker killed between SES's answer
and its acknowledgement, and a worker stuck in a send."""

import os
import signal
import time
import unittest

from harness import DaemonTestCase, peers


class Guarantees(DaemonTestCase):
    def test_a_send_accepted_just_before_the_worker_died_is_not_sent_again(self):
        stub, daemon, job = self._send_held_before_its_acknowledgement("accepted then killed")
        worker = daemon.workers()[0]
        time.sleep(0.2)  # the worker has reported the send to the master
        os.kill(worker, signal.SIGKILL)
        peers.wait_until("the master acknowledged it",
                         lambda: "acknowledged a send the dead worker could not record" in self.log(), 10)
        self.wait_stats("the job counts as sent", lambda s: s.get("sent", 0) == 1)
        peers.wait_until("a new worker runs", lambda: daemon.workers() and daemon.workers()[0] != worker)
        time.sleep(2)
        self.assertEqual(len(stub.sent()), 1)
        stats = self.stats()
        self.assertEqual(stats["queued"] + stats["in_flight"] + stats["delayed"], 0)
        events = peers.sent_events(self.client, self.queue)
        self.assertEqual([e["job"] for e in events], [job])

    def test_a_send_accepted_before_the_worker_died_is_recorded_once_redis_is_back(self):
        self.redis.stop()
        self.peers.remove(self.redis)
        self.redis = self.track(peers.Redis(self.work, appendonly=True))
        self.client = self.redis.client
        stub, daemon, job = self._send_held_before_its_acknowledgement("redis away")
        time.sleep(0.2)
        self.redis.stop(signal.SIGTERM)
        os.kill(daemon.workers()[0], signal.SIGKILL)
        peers.wait_until("the master waits for Redis",
                         lambda: "cannot acknowledge the dead worker's send yet" in self.log(), 10)
        time.sleep(2)
        self.redis.restart()
        self.wait_stats("the job counts as sent", lambda s: s.get("sent", 0) == 1, 20)
        peers.wait_until("a new worker runs", lambda: len(daemon.workers()) == 1, 10)
        time.sleep(2)
        self.assertEqual(len(stub.sent()), 1)
        stats = self.stats()
        self.assertEqual(stats["queued"] + stats["in_flight"] + stats["delayed"], 0)
        self.assertEqual([e["job"] for e in peers.sent_events(self.client, self.queue)], [job])

    def test_a_worker_stuck_in_a_send_is_killed_and_its_job_sent_by_another(self):
        stub = self.stub()
        stub.configure(delay_ms=1500)
        config = self.config(ses_endpoint=stub.url, workers=2, send_timeout="2s", job_deadline="3s")
        daemon = self.daemon(config)
        peers.wait_until("both workers run", lambda: len(daemon.workers()) == 2)
        self.enqueue(config, to="a@example.org", subject="stuck", text="t")
        self.wait_stats("a worker took it", lambda s: s["in_flight"] == 1)
        time.sleep(0.3)
        # Stop every worker busy with the job: a stopped process is as stuck as it gets.
        holder = self._holder(daemon)
        os.kill(holder, signal.SIGSTOP)
        stub.configure(delay_ms=0)
        peers.wait_until("the stuck worker is killed",
                         lambda: "worker stuck past the job deadline" in self.log(), 15)
        self.wait_stats("the job is sent", lambda s: s.get("sent", 0) == 1, 20)
        self.assertNotIn(holder, daemon.workers())

    def _send_held_before_its_acknowledgement(self, subject):
        """One worker that waits 5 s between SES's answer and its acknowledgement, and a
        job SES has accepted. Returns (stub, daemon, job id)."""
        stub = self.stub()
        config = self.config(ses_endpoint=stub.url, workers=1)
        env = dict(self.env(), HWORKER_TEST_PAUSE_BEFORE_ACK="5000")
        daemon = self.daemon(config, env)
        job = self.enqueue(config, to="a@example.org", subject=subject, text="t")
        peers.wait_until("SES accepted the send", lambda: len(stub.sent()) == 1, 15)
        return stub, daemon, job

    def _holder(self, daemon):
        for key in self.client.scan_iter(match="hworker:{%s}:inflight:*" % self.queue):
            if self.client.llen(key):
                slot = key.decode().rsplit(":", 1)[1].split(".")[0]
                pid = None
                for line in self.log().splitlines():
                    if 'msg="child started"' in line and "child.role=worker child.slot=%s " % slot in line:
                        pid = int(line.split("child.pid=")[1].split()[0])
                return pid
        return None


if __name__ == "__main__":
    unittest.main()
