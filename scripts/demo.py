#!/usr/bin/env python3
"""The main job of hworker-ses on real input.

Starts a private redis-server and a private moto server (signature checking
on, sender verified), runs the master with 4 workers at 20 recipients/s,
enqueues a realistic batch (plain, HTML+text, several recipients, Cc/Bcc,
UTF-8 subjects and names, attachments, raw MIME), shows progress while it
sends, checks that every message arrived at moto with the right fields,
stops the master with SIGTERM and prints a summary. Exits 1 if anything is
missing or wrong.
"""

import json
import os
import shutil
import sys
import tempfile
import time

import peers
from mailcheck import SENDER, check_message, make_job, recipients_of

RATE = 20
WORKERS = 4
COUNT = int(os.environ.get("DEMO_MESSAGES", "240"))


def main():
    binary = peers.binary(release=True)
    if not os.path.exists(binary):
        sys.exit("demo: %s is missing; run scripts/demo, which builds it" % binary)
    work = tempfile.mkdtemp(prefix="hworker-demo-")
    print("demo: work directory", work)
    redis = moto = daemon = None
    ok = False
    try:
        redis = peers.Redis(work)
        moto = peers.Moto(work, SENDER)
        print("demo: redis on %s, moto on %s (signature checking on, %s verified)"
              % (redis.address, moto.url, SENDER))
        config = peers.write_config(
            os.path.join(work, "hworker-ses.conf"), queue="demo", redis=redis.address,
            workers=WORKERS, monitors=1, rate=RATE, burst=0, **{"from": "Shop <%s>" % SENDER},
            region="us-east-1", ses_endpoint=moto.url, max_attempts=5, retry_base="1s",
            account_check="off",  # moto reports a daily quota of 200 it never enforces
            drain_deadline="20s", log_file=os.path.join(work, "hworker-ses.log"))
        env = dict(os.environ, AWS_ACCESS_KEY_ID=moto.access_key_id,
                   AWS_SECRET_ACCESS_KEY=moto.secret_access_key)
        env.pop("AWS_PROFILE", None)
        daemon = peers.Daemon(config, os.path.join(work, "master.out"), env=env, release=True)

        jobs = [make_job(i) for i in range(COUNT)]
        total_recipients = sum(len(recipients_of(j)) for j in jobs)
        jobs_path = os.path.join(work, "jobs.jsonl")
        with open(jobs_path, "w") as f:
            for job in jobs:
                f.write(json.dumps({k: job[k] for k in ("id", "email", "payload")}) + "\n")
        started = time.monotonic()
        out = peers.subprocess.run([binary, "enqueue", "--config", config, "--jsonl", jobs_path],
                                   capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit("demo: enqueue failed: " + out.stderr)
        print("demo: enqueued %d messages for %d recipients; sending at %d recipients/s"
              % (COUNT, total_recipients, RATE))

        deadline = started + total_recipients / RATE * 2 + 60
        last_line = 0.0
        shown_stats = False
        while True:
            s = peers.queue_stats(redis.client, "demo")
            done = s.get("sent", 0) + s.get("dead", 0)
            bar = "#" * int(30 * done / COUNT)
            line = ("  [%-30s] sent %4d  retried %3d  dead %3d  queued %4d  in flight %d  "
                    % (bar, s.get("sent", 0), s.get("retried", 0), s.get("dead", 0),
                       s["queued"], s["in_flight"]))
            if sys.stdout.isatty():
                sys.stdout.write("\r" + line)
            elif time.monotonic() - last_line >= 5 or done >= COUNT:
                sys.stdout.write(line + "\n")
                last_line = time.monotonic()
            sys.stdout.flush()
            if done >= COUNT or time.monotonic() > deadline:
                break
            if not shown_stats and done >= COUNT // 2:
                shown_stats = True
                print("\ndemo: hworker-ses stats while sending:")
                sys.stdout.flush()
                peers.subprocess.run([binary, "stats", "--config", config])
            time.sleep(0.5)
        print()
        print("demo: hworker-ses stats after the run:")
        sys.stdout.flush()
        peers.subprocess.run([binary, "stats", "--config", config])
        code = daemon.stop()
        print("demo: master stopped with SIGTERM, exit code", code)

        stats = peers.queue_stats(redis.client, "demo")
        events = peers.sent_events(redis.client, "demo")
        by_job = {e["job"]: e for e in events}
        data = moto.messages()
        records = {r["id"]: ("Message", r) for r in data.get("Message", [])}
        records.update({r["id"]: ("RawMessage", r) for r in data.get("RawMessage", [])})
        failures = []
        for job in jobs:
            event = by_job.get(job["id"])
            if event is None:
                failures.append("%s: never sent" % job["id"])
                continue
            if event["payload"] != job["payload"]:
                failures.append("%s: payload changed" % job["id"])
            kind, record = records.get(event["message_id"], (None, None))
            if record is None:
                failures.append("%s: message %s not at moto" % (job["id"], event["message_id"]))
                continue
            failures += ["%s: %s" % (job["id"], p) for p in check_message(job, record, kind)]
        window = peers.largest_window(events)
        span = max(e["started"] for e in events) - min(e["started"] for e in events) if events else 0
        sent_recipients = sum(e["recipients"] for e in events)
        achieved = (sent_recipients - 1) / span if span > 0 else 0
        leftovers = [p for p, _ in daemon.children()]

        print()
        print("summary")
        print("  enqueued           %d messages, %d recipients" % (COUNT, total_recipients))
        print("  sent               %d (verified at moto: %d)" % (stats.get("sent", 0),
                                                                   len(jobs) - len(failures)))
        print("  retried            %d" % stats.get("retried", 0))
        print("  dead               %d" % stats.get("dead", 0))
        print("  achieved rate      %.2f recipients/s (limit %d)" % (achieved, RATE))
        print("  largest 1 s window %d recipients (limit %d)" % (window, RATE))
        print("  master exit code   %s" % code)
        ok = (not failures and stats.get("sent", 0) == COUNT and window <= RATE and code == 0
              and not leftovers)
        for problem in failures[:20]:
            print("  problem: " + problem)
        if window > RATE:
            print("  problem: a one-second window held %d recipients" % window)
        if leftovers:
            print("  problem: children left behind: %s" % leftovers)
        print("demo: %s" % ("OK, every message delivered" if ok else "FAILED, logs in " + work))
        return 0 if ok else 1
    finally:
        for peer in (daemon, moto, redis):
            if peer is not None:
                peer.stop()
        if ok:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
