"""Realistic email jobs of seven kinds, and the check that what an SES peer
stored for a job matches it field by field. Shared by scripts/demo.py and
the integration tests."""

import base64
import email
import email.policy
import json
from email.message import EmailMessage
from email.utils import formataddr, parseaddr

SENDER = "orders@shop.example.com"
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


