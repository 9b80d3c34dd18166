"""The master's Prometheus endpoint, read with a real HTTP client and parsed
as Prometheus text format."""

import os
import signal
import unittest
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from harness import DaemonTestCase, peers
from test_rate import jobs_file


class Metrics(DaemonTestCase):
    def scrape(self, port):
        with peers.NO_PROXY.open("http://127.0.0.1:%d/metrics" % port, timeout=10) as answer:
            self.assertEqual(answer.status, 200)
            self.assertTrue(answer.headers["Content-Type"].startswith("text/plain; version=0.0.4"))
            text = answer.read().decode()
        samples = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                key = sample.name + "".join("{%s=%s}" % kv for kv in sorted(sample.labels.items()))
                samples[key] = sample.value
        return samples

    def test_the_endpoint_counts_jobs_children_reloads_and_latency(self):
        stub = self.stub()
        stub.configure(fail_next=["MessageRejected"])
        port = peers.free_port()
        config = self.config(ses_endpoint=stub.url, workers=2, rate=50,
                             metrics_address="127.0.0.1:%d" % port)
        daemon = self.daemon(config)
        self.cli("enqueue", "--config", config, "--jsonl", jobs_file(self, 10))
        self.wait_stats("all end", lambda s: s.get("sent", 0) + s.get("dead", 0) == 10)
        os.kill(daemon.pid, signal.SIGHUP)
        peers.wait_until("the reload is done", lambda: "reload applied live" in self.log(), 10)
        samples = peers.wait_until(
            "the counters catch up",
            lambda: (lambda s: s if s.get("hworker_jobs_total{outcome=sent}") == 9 else None)(
                self.scrape(port)), 10)
        self.assertEqual(samples["hworker_jobs_total{outcome=dead}"], 1)
        self.assertEqual(samples["hworker_child_starts_total{role=worker}"], 2)
        self.assertEqual(samples["hworker_child_starts_total{role=monitor}"], 1)
        self.assertEqual(samples["hworker_reloads_total{result=accepted}"], 1)
        self.assertEqual(samples["hworker_send_seconds_count"], 10)
        self.assertEqual(samples["hworker_send_seconds_bucket{le=+Inf}"], 10)
        self.assertGreater(samples["hworker_send_seconds_sum"], 0)
        self.assertEqual(samples["hworker_workers"], 2)
        self.assertEqual(samples["hworker_rate_configured"], 50)
        with self.assertRaises(urllib.error.HTTPError) as missing:
            peers.NO_PROXY.open("http://127.0.0.1:%d/other" % port, timeout=10)
        self.assertEqual(missing.exception.code, 404)

    def test_an_address_in_use_is_logged_and_the_master_runs_without_metrics(self):
        import socket
        blocker = socket.socket()
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        stub = self.stub()
        config = self.config(ses_endpoint=stub.url, metrics_address="127.0.0.1:%d" % port)
        self.daemon(config)
        self.assertIn("cannot serve metrics", self.log())
        self.enqueue(config, to="a@example.org", subject="s", text="t")
        self.wait_stats("the job is sent", lambda s: s.get("sent", 0) == 1)
        blocker.close()


if __name__ == "__main__":
    unittest.main()
