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

import base64
import email
import email.policy
import json
import os
import sys
import tempfile
import time
from email.message import EmailMessage
from email.utils import formataddr, parseaddr

import peers

SENDER = "orders@shop.example.com"
RATE = 20
WORKERS = 4
COUNT = int(os.environ.get("DEMO_MESSAGES", "240"))
NAMES = ["Zoë Müller", "José Álvarez", "Søren Kierkegaard", "王小明", "Ana Lúcia", "Ingrid Øst"]


def recipient(i, k):
    return "customer%d.%d@example.org" % (i, k)


def make_job(i):
    """One job of one of seven kinds, with a unique subject marker."""
    kind = i % 7
    marker = "#%04d" % i
    job = {"id": "demo-%04d" % i, "payload": json.dumps({"order": i, "kind": kind})}
    mail = {"to": [recipient(i, 0)]}
    if kind == 0:
        mail.update(subject="Your receipt " + marker, text="Thank you for order %d." % i)
    elif kind == 1:
        mail.update(subject="Shipping update " + marker, text="Order %d has shipped." % i,
                    html="<p>Order <b>%d</b> has shipped.</p>" % i)
    elif kind == 2:
        mail.update(to=[recipient(i, 0), recipient(i, 1)], cc=[recipient(i, 2)],
                    bcc=[recipient(i, 3)], subject="Team digest " + marker,
                    text="Digest for four readers.")
    elif kind == 3:
        name = NAMES[i % len(NAMES)]
        mail.update(to=[formataddr((name, recipient(i, 0)))],
                    subject="Grüße und Überraschungen 🎁 " + marker,
                    text="Hallo %s, schöne Grüße!" % name, html="<p>Hallo %s — 你好!</p>" % name)
        job["from_name"] = name
    elif kind == 4:
        data = ("invoice %d\n" % i).encode() * 40 + bytes(range(256))
        mail.update(subject="Invoice " + marker, text="Your invoice is attached.",
                    attachments=[{"filename": "invoice-%d.pdf" % i, "content_type": "application/pdf",
                                  "data": base64.b64encode(data).decode()},
                                 {"filename": "résumé-%d.txt" % i, "content_type": "text/plain",
                                  "data": base64.b64encode("naïve café".encode()).decode()}])
    elif kind == 5:
        mail.update(to=[recipient(i, 0)], reply_to=["support@shop.example.com"],
                    subject="We are listening " + marker, text="Reply to reach support.",
                    headers=[{"name": "List-Unsubscribe", "value": "<mailto:unsub@shop.example.com>"}],
                    tags=[{"name": "campaign", "value": "feedback"}])
    else:
        raw = EmailMessage()
        raw["From"] = formataddr(("Shop", SENDER))
        raw["To"] = recipient(i, 0)
        raw["Subject"] = "Raw MIME — prebuilt " + marker
        raw.set_content("A message built by the application itself.")
        raw.add_alternative("<p>A message built by the <i>application</i>.</p>", subtype="html")
        mail = {"to": [recipient(i, 0)], "raw": base64.b64encode(raw.as_bytes()).decode()}
    job["email"] = mail
    return job


def recipients_of(job):
    m = job["email"]
    return [parseaddr(a)[1] for a in m.get("to", []) + m.get("cc", []) + m.get("bcc", [])]


def check_message(job, record, kind_name):
    """Problems with what moto stored for a job, as a list of strings."""
    m = job["email"]
    problems = []
    marker = m.get("subject", "") or ""
    stored = sorted(parseaddr(a)[1] for group in _destinations(record) for a in group)
    if sorted(set(stored)) != sorted(set(recipients_of(job))):
        problems.append("recipients %s != %s" % (stored, recipients_of(job)))
    if kind_name == "Message":
        if record.get("subject") != m.get("subject"):
            problems.append("subject %r" % record.get("subject"))
        body = m.get("html") or m.get("text")
        if record.get("body") != body:
            problems.append("body %r" % record.get("body"))
        return problems
    parsed = email.message_from_string(record["raw_data"], policy=email.policy.default)
    if "raw" in m:
        original = email.message_from_bytes(base64.b64decode(m["raw"]), policy=email.policy.default)
        marker = str(original["Subject"])
    if str(parsed["Subject"]) != marker:
        problems.append("subject %r != %r" % (str(parsed["Subject"]), marker))
    if "bcc" in m and parsed["Bcc"] is not None:
        problems.append("Bcc header visible")
    if m.get("reply_to") and parseaddr(str(parsed["Reply-To"]))[1] != m["reply_to"][0]:
        problems.append("Reply-To %r" % parsed["Reply-To"])
    for header in m.get("headers", []):
        if str(parsed[header["name"]]) != header["value"]:
            problems.append("header %s" % header["name"])
    text = parsed.get_body(("plain",))
    if m.get("text") and (text is None or text.get_content().strip() != m["text"]):
        problems.append("text body")
    html = parsed.get_body(("html",))
    if m.get("html") and (html is None or html.get_content().strip() != m["html"]):
        problems.append("html body")
    attached = {a.get_filename(): a.get_payload(decode=True) for a in parsed.iter_attachments()}
    for a in m.get("attachments", []):
        if attached.get(a["filename"]) != base64.b64decode(a["data"]):
            problems.append("attachment %s" % a["filename"])
    if "from_name" in job and job["from_name"] not in str(parsed["To"]):
        problems.append("display name %r" % str(parsed["To"]))
    return problems


def _destinations(record):
    d = record.get("destinations")
    if isinstance(d, dict):
        return [d.get("ToAddresses", []), d.get("CcAddresses", []), d.get("BccAddresses", [])]
    return [d or []]


def main():
    binary = peers.binary(release=True)
    if not os.path.exists(binary):
        sys.exit("demo: %s is missing; run scripts/demo, which builds it" % binary)
    work = tempfile.mkdtemp(prefix="hworker-demo-")
    print("demo: work directory", work)
    redis = moto = daemon = None
    try:
        redis = peers.Redis(work)
        moto = peers.Moto(work, SENDER)
        print("demo: redis on %s, moto on %s (signature checking on, %s verified)"
              % (redis.address, moto.url, SENDER))
        config = peers.write_config(
            os.path.join(work, "hworker-ses.conf"), queue="demo", redis=redis.address,
            workers=WORKERS, monitors=1, rate=RATE, burst=0, **{"from": "Shop <%s>" % SENDER},
            region="us-east-1", ses_endpoint=moto.url, max_attempts=5, retry_base="1s",
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
        while True:
            s = peers.queue_stats(redis.client, "demo")
            done = s.get("sent", 0) + s.get("dead", 0)
            bar = "#" * int(30 * done / COUNT)
            sys.stdout.write("\r  [%-30s] sent %4d  retried %3d  dead %3d  queued %4d  in flight %d  "
                             % (bar, s.get("sent", 0), s.get("retried", 0), s.get("dead", 0),
                                s["queued"], s["in_flight"]))
            sys.stdout.flush()
            if done >= COUNT or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        print()
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
        print("demo: %s" % ("OK, every message delivered" if ok else "FAILED"))
        return 0 if ok else 1
    finally:
        for peer in (daemon, moto, redis):
            if peer is not None:
                peer.stop()


if __name__ == "__main__":
    sys.exit(main())
