#!/usr/bin/env python3
"""Self-test for scripts/ses-stub.py.

Starts the stub on free loopback ports and checks, with botocore/boto3 clients (sesv2 and
ses, pointed at the stub with explicit fake credentials) and raw http.client / socket
requests, that every behaviour answers the way botocore expects from Amazon SES.

Usage: python3 scripts/ses-stub-selftest.py [-v] [--bench SECONDS] [-k SUBSTRING]
Exits 0 only if every check passes.  Needs boto3 (pip install boto3).
"""

import argparse
import email.message
import http.client
import importlib.util
import json
import multiprocessing
import os
import re
import select
import socket
import subprocess
import sys
import threading
import time
import traceback
import unittest.mock

HERE = os.path.dirname(os.path.abspath(__file__))
STUB = os.path.join(HERE, "ses-stub.py")

# Nothing here may reach AWS or the instance-metadata address: drop every AWS_* setting,
# disable metadata lookups and point the shared config files at nothing.  Every client
# below also gets endpoint_url, region and credentials explicitly.
for _k in list(os.environ):
    if _k.startswith("AWS_"):
        del os.environ[_k]
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull

try:
    import boto3
    import botocore
    import botocore.auth
    import botocore.awsrequest
    import botocore.credentials
    import botocore.exceptions
    import botocore.parsers
    from botocore import UNSIGNED
    from botocore.config import Config
except ImportError:
    print("ses-stub-selftest: needs boto3/botocore (pip install boto3)", file=sys.stderr)
    sys.exit(2)

KEY, SECRET, REGION = "AKIDSTUBTEST", "stub-secret-key", "us-east-1"
SIG_MSG = ("The request signature we calculated does not match the signature you provided. "
           "Check your AWS Secret Access Key and signing method. "
           "Consult the service documentation for details.")
TOKEN_MSG = "The security token included in the request is invalid."
MID_RE = re.compile(r"^0100[0-9a-f]{12}-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
                    r"[0-9a-f]{12}-000000$")
VERBOSE = False


class Fail(AssertionError):
    pass


def check(cond, what):
    if not cond:
        raise Fail(what)


def eq(got, want, what):
    if got != want:
        raise Fail(f"{what}: got {got!r}, want {want!r}")


# ---------------------------------------------------------------------------------------
# Stub process


class Stub:
    def __init__(self, *args):
        self.proc = subprocess.Popen([sys.executable, STUB, "--port", "0", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.time() + 15
        line = b""
        while time.time() < deadline:
            r, _, _ = select.select([self.proc.stdout], [], [], 0.5)
            if r:
                line = self.proc.stdout.readline()
                break
            if self.proc.poll() is not None:
                break
        m = re.match(rb"^LISTENING (\d+)\n$", line)
        if not m:
            err = self.proc.stderr.read() if self.proc.poll() is not None else b""
            self.stop()
            raise RuntimeError(f"stub did not start: {line!r} {err.decode(errors='replace')}")
        self.port = int(m.group(1))
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()       # our own child, by its Popen handle
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    # control API over a fresh connection each time
    def call(self, method, path, obj=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            body = json.dumps(obj).encode() if obj is not None else None
            c.request(method, path, body=body,
                      headers={"Content-Type": "application/json"} if body else {})
            r = c.getresponse()
            data = r.read()
            return r.status, json.loads(data) if data else None
        finally:
            c.close()

    def config(self, **kw):
        st, out = self.call("POST", "/_stub/config", kw)
        eq(st, 200, f"POST /_stub/config {kw}: {out}")
        return out

    def reset(self, settings=True):
        st, _ = self.call("POST", "/_stub/reset", {"settings": settings})
        eq(st, 200, "POST /_stub/reset")

    def sent(self, since=0):
        return self.call("GET", f"/_stub/sent?since={since}")[1]["messages"]

    def rejected(self, since=0):
        return self.call("GET", f"/_stub/rejected?since={since}")[1]["rejected"]

    def stats(self):
        return self.call("GET", "/_stub/stats")[1]


def clients(stub, key=KEY, secret=SECRET, region=REGION, token=None, unsigned=False):
    cfg = Config(retries={"total_max_attempts": 1, "mode": "standard"},
                 connect_timeout=5, read_timeout=15,
                 **({"signature_version": UNSIGNED} if unsigned else {}))
    common = dict(endpoint_url=stub.url, region_name=region, aws_access_key_id=key,
                  aws_secret_access_key=secret, aws_session_token=token, config=cfg)
    return boto3.client("sesv2", **common), boto3.client("ses", **common)


def signed(stub, method, path, body=b"", headers=None, key=KEY, secret=SECRET,
           region=REGION, service="ses"):
    """Headers for a raw request, signed by botocore's own SigV4 code."""
    h = {"Host": f"127.0.0.1:{stub.port}"}
    h.update(headers or {})
    req = botocore.awsrequest.AWSRequest(method=method, url=stub.url + path, data=body,
                                         headers=h)
    botocore.auth.SigV4Auth(botocore.credentials.Credentials(key, secret), service,
                            region).add_auth(req)
    return dict(req.headers.items())


def raw(stub, method, path, body=b"", headers=None, conn=None):
    c = conn or http.client.HTTPConnection("127.0.0.1", stub.port, timeout=10)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    if conn is None:
        c.close()
    return r, data


def expect_error(fn, code, status, message=None, prefix=None):
    try:
        out = fn()
    except botocore.exceptions.ClientError as e:
        err = e.response["Error"]
        meta = e.response["ResponseMetadata"]
        eq(err.get("Code"), code, "error code")
        eq(meta.get("HTTPStatusCode"), status, f"HTTP status for {code}")
        check(meta.get("RequestId"), f"{code}: RequestId parsed")
        if message is not None:
            eq(err.get("Message"), message, f"{code} message")
        if prefix is not None:
            check(err.get("Message", "").startswith(prefix),
                  f"{code} message {err.get('Message')!r} should start with {prefix!r}")
        return e
    raise Fail(f"expected ClientError {code}, got success {out!r}")


def v2_simple(v2, to=("to@example.net",), frm="sender@example.com", **kw):
    args = dict(FromEmailAddress=frm, Destination={"ToAddresses": list(to)},
                Content={"Simple": {"Subject": {"Data": "s"},
                                    "Body": {"Text": {"Data": "t"}}}})
    args.update(kw)
    return v2.send_email(**args)


def v1_simple(v1, to=("to@example.net",), frm="sender@example.com", **kw):
    args = dict(Source=frm, Destination={"ToAddresses": list(to)},
                Message={"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "t"}}})
    args.update(kw)
    return v1.send_email(**args)


def mime(frm="Sender <sender@example.com>", to="a@example.net, b@example.net",
         cc="c@example.net", subject="Grüße aus dem Stub", attach=True):
    m = email.message.EmailMessage()
    if frm:
        m["From"] = frm
    if to:
        m["To"] = to
    if cc:
        m["Cc"] = cc
    m["Subject"] = subject
    m.set_content("plain body\n")
    if attach:
        m.add_attachment(b"\x00\x01binary", maintype="application",
                         subtype="octet-stream", filename="blob.bin")
    return m.as_bytes()


# ---------------------------------------------------------------------------------------
# Tests

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


@test
def v2_send_simple(stub):
    stub.reset()
    v2, _ = clients(stub)
    r = v2.send_email(
        FromEmailAddress="Sender Name <sender@example.com>",
        Destination={"ToAddresses": ["a@example.net", "b@example.net"],
                     "CcAddresses": ["c@example.net"], "BccAddresses": ["d@example.net"]},
        ReplyToAddresses=["reply@example.com"],
        Content={"Simple": {"Subject": {"Data": "Hello", "Charset": "UTF-8"},
                            "Body": {"Text": {"Data": "text body"},
                                     "Html": {"Data": "<p>html</p>"}}}},
        ConfigurationSetName="cs-main",
        EmailTags=[{"Name": "job", "Value": "42"}])
    check(MID_RE.match(r["MessageId"]), f"MessageId form: {r['MessageId']}")
    check(r["ResponseMetadata"]["RequestId"], "RequestId from x-amzn-RequestId")
    eq(r["ResponseMetadata"]["HTTPStatusCode"], 200, "status")
    [rec] = stub.sent()
    eq(rec["message_id"], r["MessageId"], "recorded message id")
    eq(rec["api"], "v2", "api")
    eq(rec["source"], "sender@example.com", "source")
    eq(rec["to"], ["a@example.net", "b@example.net"], "to")
    eq(rec["cc"], ["c@example.net"], "cc")
    eq(rec["bcc"], ["d@example.net"], "bcc")
    eq(rec["recipient_count"], 4, "recipient count")
    eq(rec["reply_to"], ["reply@example.com"], "reply-to")
    eq((rec["subject"], rec["charset"], rec["text"], rec["html"]),
       ("Hello", "UTF-8", "text body", "<p>html</p>"), "content")
    eq(rec["configuration_set"], "cs-main", "configuration set")
    eq(rec["tags"], [{"Name": "job", "Value": "42"}], "tags")
    check(isinstance(rec["time"], float) and isinstance(rec["monotonic"], float),
          "timestamps")
    check(abs(rec["time"] - time.time()) < 5, "wall timestamp is now")


@test
def v2_send_raw(stub):
    stub.reset()
    v2, _ = clients(stub)
    raw_msg = mime()
    r = v2.send_email(Content={"Raw": {"Data": raw_msg}})
    check(MID_RE.match(r["MessageId"]), "MessageId")
    r2 = v2.send_email(FromEmailAddress="sender@example.com",
                       Destination={"ToAddresses": ["only@example.net"]},
                       Content={"Raw": {"Data": raw_msg}})
    a, b = stub.sent()
    eq(a["source"], "sender@example.com", "source from the From header")
    eq(a["destinations"], ["a@example.net", "b@example.net", "c@example.net"],
       "recipients from the headers")
    eq(a["recipient_count"], 3, "recipient count from headers")
    eq(a["subject"], "Grüße aus dem Stub", "decoded subject")
    check("filename=\"blob.bin\"" in a["raw"], "raw MIME kept, with the attachment")
    eq(a["raw"].encode(), raw_msg, "raw MIME decoded exactly")
    eq(b["destinations"], ["only@example.net"], "explicit destination wins")
    eq(b["recipient_count"], 1, "explicit recipient count")
    eq(b["message_id"], r2["MessageId"], "id")
    # Raw without any From: SES needs one.
    expect_error(lambda: v2.send_email(Content={"Raw": {"Data": mime(frm=None)}}),
                 "BadRequestException", 400, "Missing required header 'From'.")


@test
def v1_send_and_raw(stub):
    stub.reset()
    _, v1 = clients(stub)
    r = v1.send_email(
        Source="sender@example.com",
        Destination={"ToAddresses": ["a@example.net"], "CcAddresses": ["c@example.net"],
                     "BccAddresses": ["d@example.net", "e@example.net"]},
        Message={"Subject": {"Data": "Hi", "Charset": "UTF-8"},
                 "Body": {"Text": {"Data": "t"}, "Html": {"Data": "<b>h</b>"}}},
        ReplyToAddresses=["r1@example.com", "r2@example.com"],
        ConfigurationSetName="cs1", Tags=[{"Name": "k", "Value": "v"},
                                          {"Name": "k2", "Value": "v2"}])
    check(MID_RE.match(r["MessageId"]), "v1 MessageId")
    check(r["ResponseMetadata"]["RequestId"], "v1 RequestId from ResponseMetadata")
    r2 = v1.send_raw_email(RawMessage={"Data": mime()}, Destinations=["x@example.net"])
    r3 = v1.send_raw_email(RawMessage={"Data": mime()})
    a, b, c = stub.sent()
    eq(a["api"], "v1", "api")
    eq((a["to"], a["cc"], a["bcc"]), (["a@example.net"], ["c@example.net"],
                                      ["d@example.net", "e@example.net"]), "v1 destinations")
    eq(a["recipient_count"], 4, "v1 recipient count")
    eq(a["reply_to"], ["r1@example.com", "r2@example.com"], "v1 reply-to")
    eq(a["tags"], [{"Name": "k", "Value": "v"}, {"Name": "k2", "Value": "v2"}], "v1 tags")
    eq((a["subject"], a["text"], a["html"]), ("Hi", "t", "<b>h</b>"), "v1 content")
    eq(b["action"], "SendRawEmail", "raw action")
    eq(b["destinations"], ["x@example.net"], "raw explicit destinations")
    eq(b["message_id"], r2["MessageId"], "raw id")
    eq(c["recipient_count"], 3, "raw recipients from headers")
    eq(c["message_id"], r3["MessageId"], "raw id 2")
    expect_error(lambda: v1.send_raw_email(RawMessage={"Data": mime(frm=None)}),
                 "InvalidParameterValue", 400, "Missing required header 'From'.")
    expect_error(lambda: v1.send_raw_email(RawMessage={"Data": mime(to=None, cc=None)}),
                 "InvalidParameterValue", 400, "Missing required header 'To'.")


@test
def quotas_reported(stub):
    stub.reset()
    v2, v1 = clients(stub)
    a = v2.get_account()
    eq(a["SendQuota"], {"Max24HourSend": -1.0, "MaxSendRate": 10000.0,
                        "SentLast24Hours": 0.0}, "default quota")
    eq((a["SendingEnabled"], a["ProductionAccessEnabled"], a["EnforcementStatus"]),
       (True, True, "HEALTHY"), "account flags")
    stub.config(rate=5, daily_quota=100)
    v2_simple(v2, to=["a@example.net", "b@example.net"])
    q = v1.get_send_quota()
    eq((q["Max24HourSend"], q["MaxSendRate"], q["SentLast24Hours"]), (100.0, 5.0, 2.0),
       "v1 GetSendQuota")
    a = v2.get_account()
    eq(a["SendQuota"], {"Max24HourSend": 100.0, "MaxSendRate": 5.0,
                        "SentLast24Hours": 2.0}, "v2 GetAccount")
    stub.config(max_send_rate=14, max_24_hour_send=50000)
    q = v1.get_send_quota()
    eq((q["Max24HourSend"], q["MaxSendRate"]), (50000.0, 14.0), "reported overrides")


@test
def rate_limit(stub):
    stub.reset()
    v2, v1 = clients(stub)
    stub.config(rate=3)
    time.sleep(1.05)
    v1_simple(v1, to=["a@example.net", "b@example.net"])
    v2_simple(v2)
    expect_error(lambda: v1_simple(v1), "Throttling", 400, "Maximum sending rate exceeded.")
    expect_error(lambda: v2_simple(v2), "TooManyRequestsException", 429,
                 "Maximum sending rate exceeded.")
    eq(len(stub.sent()), 2, "throttled sends are not recorded as accepted")
    rej = stub.rejected()
    eq([r["code"] for r in rej], ["Throttling", "TooManyRequestsException"],
       "rejections recorded with their codes")
    eq(rej[0]["recipient_count"], 1, "rejection keeps the recipient count")
    time.sleep(1.05)
    v2_simple(v2, to=["a@example.net", "b@example.net", "c@example.net"])
    expect_error(lambda: v2_simple(v2, to=["x@example.net"] * 4), "TooManyRequestsException",
                 429, "Maximum sending rate exceeded.")
    eq(stub.stats()["max_recipients_in_1s_window"], 3, "largest 1 s window")


@test
def rate_limit_under_load(stub):
    stub.reset()
    stub.config(rate=20)
    v2, _ = clients(stub)
    hdr = None
    stop = time.monotonic() + 2.5
    counts = {"ok": 0, "throttled": 0, "other": 0}
    lock = threading.Lock()
    body = json.dumps({"FromEmailAddress": "s@example.com",
                       "Destination": {"ToAddresses": ["a@example.net"]},
                       "Content": {"Simple": {"Subject": {"Data": "x"},
                                              "Body": {"Text": {"Data": "y"}}}}}).encode()
    hdr = signed(stub, "POST", "/v2/email/outbound-emails", body,
                 {"Content-Type": "application/json"})

    def worker():
        c = http.client.HTTPConnection("127.0.0.1", stub.port, timeout=10)
        while time.monotonic() < stop:
            r, _ = raw(stub, "POST", "/v2/email/outbound-emails", body, hdr, conn=c)
            k = ("ok" if r.status == 200 else "throttled" if r.status == 429 else "other")
            with lock:
                counts[k] += 1
        c.close()

    ts = [threading.Thread(target=worker) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    st = stub.stats()
    eq(counts["other"], 0, "only 200 or 429 answers")
    check(counts["throttled"] > 0, "some sends were throttled")
    check(st["max_recipients_in_1s_window"] <= 20,
          f"never more than 20 recipients in a 1 s window: {st['max_recipients_in_1s_window']}")
    eq(st["max_recipients_in_1s_window"], 20, "the rate was reached")
    check(40 <= counts["ok"] <= 60, f"about 2.5 s x 20/s accepted: {counts['ok']}")
    eq(st["accepted_messages"], counts["ok"], "stats count accepted")


@test
def daily_quota(stub):
    stub.reset()
    v2, v1 = clients(stub)
    stub.config(daily_quota=3)
    v1_simple(v1, to=["a@example.net", "b@example.net"])
    expect_error(lambda: v1_simple(v1, to=["a@example.net", "b@example.net"]),
                 "Throttling", 400, "Daily message quota exceeded.")
    expect_error(lambda: v2_simple(v2, to=["a@example.net", "b@example.net"]),
                 "TooManyRequestsException", 429, "Daily message quota exceeded.")
    v2_simple(v2)
    expect_error(lambda: v2_simple(v2), "TooManyRequestsException", 429,
                 "Daily message quota exceeded.")
    q = v1.get_send_quota()
    eq((q["Max24HourSend"], q["SentLast24Hours"]), (3.0, 3.0), "quota after sends")
    eq(len(stub.sent()), 2, "quota rejections not recorded as accepted")


@test
def paused_account(stub):
    stub.reset()
    v2, v1 = clients(stub)
    stub.config(paused=True)
    expect_error(lambda: v1_simple(v1), "AccountSendingPausedException", 400)
    expect_error(lambda: v1.send_raw_email(RawMessage={"Data": mime()}),
                 "AccountSendingPausedException", 400)
    expect_error(lambda: v2_simple(v2), "SendingPausedException", 400)
    eq(v2.get_account()["SendingEnabled"], False, "GetAccount SendingEnabled")
    v1.get_send_quota()
    stub.config(paused="suspended")
    expect_error(lambda: v2_simple(v2), "AccountSuspendedException", 400)
    a = v2.get_account()
    eq((a["SendingEnabled"], a["EnforcementStatus"]), (False, "SHUTDOWN"), "suspended")
    stub.config(paused=False)
    v2_simple(v2)
    eq(v2.get_account()["SendingEnabled"], True, "resumed")


@test
def recipient_limits(stub):
    stub.reset()
    v2, v1 = clients(stub)
    many = [f"r{i}@example.net" for i in range(51)]
    expect_error(lambda: v1_simple(v1, to=many), "InvalidParameterValue", 400,
                 "Recipient count exceeds 50.")
    expect_error(lambda: v2.send_email(
        FromEmailAddress="s@example.com",
        Destination={"ToAddresses": many[:20], "CcAddresses": many[20:40],
                     "BccAddresses": many[40:]},
        Content={"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "t"}}}}),
        "BadRequestException", 400, "Recipient count exceeds 50.")
    v2_simple(v2, to=many[:50])
    v1_simple(v1, to=many[:50])
    eq([r["recipient_count"] for r in stub.sent()], [50, 50], "50 recipients accepted")
    expect_error(lambda: v2.send_email(
        Destination={"ToAddresses": ["a@example.net"]},
        Content={"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "t"}}}}),
        "BadRequestException", 400, "Missing required header 'From'.")


@test
def verified_identities(stub):
    stub.reset()
    v2, v1 = clients(stub)
    stub.config(verified=["example.com", "solo@other.org"])
    v2_simple(v2, frm="a@example.com")
    v2_simple(v2, frm="News <x@mail.example.com>")
    v1_simple(v1, frm="solo@other.org")
    msg = ("Email address is not verified. The following identities failed the check in "
           "region US-EAST-1: bad@other.org")
    expect_error(lambda: v1_simple(v1, frm="bad@other.org"), "MessageRejected", 400, msg)
    expect_error(lambda: v2_simple(v2, frm="bad@other.org"), "MessageRejected", 400, msg)
    stub.config(sandbox=True)
    eq(v2.get_account()["ProductionAccessEnabled"], False, "sandbox shows")
    expect_error(lambda: v2_simple(v2, frm="a@example.com", to=["out@else.net"]),
                 "MessageRejected", 400,
                 "Email address is not verified. The following identities failed the "
                 "check in region US-EAST-1: out@else.net")
    v2_simple(v2, frm="a@example.com", to=["in@example.com"])
    eq(len(stub.sent()), 4, "accepted count")


@test
def configuration_sets(stub):
    stub.reset()
    v2, v1 = clients(stub)
    stub.config(configuration_sets=["known"])
    v2_simple(v2, ConfigurationSetName="known")
    expect_error(lambda: v1_simple(v1, ConfigurationSetName="nope"),
                 "ConfigurationSetDoesNotExist", 400, "Configuration set <nope> does not exist.")
    expect_error(lambda: v2_simple(v2, ConfigurationSetName="nope"), "NotFoundException",
                 404, "Configuration set <nope> does not exist.")


FAIL_SEQ = ["Throttling", "DailyQuota", "MessageRejected", "InternalFailure",
            "ServiceUnavailable", "SignatureDoesNotMatch", "InvalidClientTokenId",
            "IncompleteSignature", "MissingAuthenticationToken", "AccountSendingPausedException",
            "ConfigurationSetSendingPausedException", "AccountSuspendedException",
            "MailFromDomainNotVerifiedException", "ConfigurationSetDoesNotExist",
            "ThrottlingException", "RequestExpired", "ExpiredToken", "AccessDenied",
            "InvalidParameterValue", "LimitExceededException", "InternalServiceErrorException",
            {"code": "Teapot", "status": 418, "message": "short and stout"}]
# (v1 code, status), (v2 code, status), message or None
FAIL_WANT = [
    (("Throttling", 400), ("TooManyRequestsException", 429), "Maximum sending rate exceeded."),
    (("Throttling", 400), ("TooManyRequestsException", 429), "Daily message quota exceeded."),
    (("MessageRejected", 400), ("MessageRejected", 400),
     "Email address is not verified. The following identities failed the check in region "
     "US-EAST-1: sender@example.com"),
    (("InternalFailure", 500), ("InternalFailure", 500), None),
    (("ServiceUnavailable", 503), ("ServiceUnavailable", 503), None),
    (("SignatureDoesNotMatch", 403), ("InvalidSignatureException", 403), SIG_MSG),
    (("InvalidClientTokenId", 403), ("UnrecognizedClientException", 403), TOKEN_MSG),
    (("IncompleteSignature", 400), ("IncompleteSignatureException", 403), None),
    (("MissingAuthenticationToken", 403), ("MissingAuthenticationTokenException", 403), None),
    (("AccountSendingPausedException", 400), ("SendingPausedException", 400), None),
    (("ConfigurationSetSendingPausedException", 400), ("SendingPausedException", 400), None),
    (("AccountSendingPausedException", 400), ("AccountSuspendedException", 400), None),
    (("MailFromDomainNotVerifiedException", 400), ("MailFromDomainNotVerifiedException", 400),
     None),
    (("ConfigurationSetDoesNotExist", 400), ("NotFoundException", 404), None),
    (("ThrottlingException", 400), ("ThrottlingException", 400), "Rate exceeded"),
    (("RequestExpired", 400), ("RequestExpired", 400), None),
    (("ExpiredToken", 400), ("ExpiredTokenException", 403), None),
    (("AccessDenied", 403), ("AccessDeniedException", 403), None),
    (("InvalidParameterValue", 400), ("BadRequestException", 400), None),
    (("LimitExceeded", 400), ("LimitExceededException", 400), None),
    (("InternalFailure", 500), ("InternalServiceErrorException", 500), None),
    (("Teapot", 418), ("Teapot", 418), "short and stout"),
]


@test
def fail_next_sequence(stub):
    for api in ("v1", "v2"):
        stub.reset()
        v2, v1 = clients(stub)
        stub.config(fail_next=FAIL_SEQ)
        send = (lambda: v1_simple(v1)) if api == "v1" else (lambda: v2_simple(v2))
        for item, (w1, w2, msg) in zip(FAIL_SEQ, FAIL_WANT):
            code, status = w1 if api == "v1" else w2
            e = expect_error(send, code, status, msg)
            check(e.response["Error"].get("Message"), f"{api} {item}: has a message")
            if api == "v1":
                want_type = "Receiver" if status >= 500 else "Sender"
                eq(e.response["Error"].get("Type"), want_type, f"v1 {item} Type")
        eq(stub.call("GET", "/_stub/config")[1]["fail_next"], [], "fail_next consumed")
        send()
        eq(len(stub.sent()), 1, f"{api}: only the last send accepted")
        eq(len(stub.rejected()), len(FAIL_SEQ), f"{api}: every injected error recorded")
    # Injected errors apply to GetAccount too unless fault_ops is "send".
    stub.reset()
    v2, v1 = clients(stub)
    stub.config(fail_next=["Throttling"], fault_ops="send")
    v2.get_account()
    v1.get_send_quota()
    expect_error(lambda: v2_simple(v2), "TooManyRequestsException", 429)
    stub.config(fail_next=["InternalFailure"], fault_ops="all")
    expect_error(lambda: v2.get_account(), "InternalFailure", 500)


@test
def server_errors(stub):
    stub.reset()
    v2, v1 = clients(stub)
    stub.config(fail_next_5xx=2)
    expect_error(lambda: v2_simple(v2), "InternalFailure", 500,
                 "The request processing has failed because of an unknown error, exception "
                 "or failure.")
    expect_error(lambda: v1_simple(v1), "InternalFailure", 500)
    v2_simple(v2)
    stub.config(fail_5xx=1.0, fail_5xx_code="ServiceUnavailable")
    expect_error(lambda: v1_simple(v1), "ServiceUnavailable", 503)
    expect_error(lambda: v2.get_account(), "ServiceUnavailable", 503)
    stub.config(fail_5xx=0.5)
    body = b"Action=GetSendQuota&Version=2010-12-01"
    h = signed(stub, "POST", "/", body,
               {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    c = http.client.HTTPConnection("127.0.0.1", stub.port, timeout=10)
    n5 = sum(raw(stub, "POST", "/", body, h, conn=c)[0].status == 503 for _ in range(300))
    c.close()
    check(100 <= n5 <= 200, f"about half of 300 answered 503: {n5}")
    stub.config(fail_5xx=0)
    v2_simple(v2)


@test
def delays(stub):
    stub.reset()
    v2, _ = clients(stub)
    stub.config(delay_next=2, delay_next_ms=600)
    for i in range(2):
        t = time.monotonic()
        v2_simple(v2)
        check(time.monotonic() - t >= 0.6, f"delayed request {i}")
    t = time.monotonic()
    v2_simple(v2)
    check(time.monotonic() - t < 0.45, "third request not delayed")
    stub.config(delay_ms=150)
    t = time.monotonic()
    v2.get_account()
    check(time.monotonic() - t >= 0.15, "delay_ms applies")
    stub.config(delay_ms=0)


@test
def dropped_connections(stub):
    stub.reset()
    v2, v1 = clients(stub)
    stub.config(drop_next=2)
    try:
        v2_simple(v2)
        raise Fail("dropped request should fail")
    except botocore.exceptions.ConnectionClosedError:
        pass
    body = b"Action=GetSendQuota&Version=2010-12-01"
    h = signed(stub, "POST", "/", body, {"Content-Type": "application/x-www-form-urlencoded"})
    try:
        raw(stub, "POST", "/", body, h)
        raise Fail("raw dropped request should fail")
    except http.client.RemoteDisconnected:
        pass
    v2_simple(v2)
    eq(len(stub.sent()), 1, "dropped not accepted")
    eq([r["code"] for r in stub.rejected()], ["ConnectionDropped"] * 2, "drops recorded")


@test
def reset_connections(stub):
    stub.reset()
    v2, _ = clients(stub)
    stub.config(reset_next=2)
    try:
        v2_simple(v2)
        raise Fail("reset request should fail")
    except botocore.exceptions.ClientError as e:
        raise Fail(f"reset should not parse as an SES answer: {e}")
    except (botocore.exceptions.ConnectionClosedError, botocore.exceptions.HTTPClientError,
            botocore.exceptions.ReadTimeoutError) as e:
        if VERBOSE:
            print(f"    botocore on reset: {type(e).__name__}")
    # Raw socket: partial answer, then ECONNRESET.
    body = b"Action=GetSendQuota&Version=2010-12-01"
    h = signed(stub, "POST", "/", body, {"Content-Type": "application/x-www-form-urlencoded"})
    s = socket.create_connection(("127.0.0.1", stub.port), timeout=10)
    req = "POST / HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items()) + \
        f"Content-Length: {len(body)}\r\n\r\n"
    s.sendall(req.encode() + body)
    got = b""
    reset = False
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            got += d
    except ConnectionResetError:
        reset = True
    s.close()
    check(got.startswith(b"HTTP/1.1 200 OK"), f"partial answer first: {got[:40]!r}")
    check(reset, "TCP reset seen (ECONNRESET), not a clean close")
    v2_simple(v2)
    eq([r["code"] for r in stub.rejected()], ["ConnectionReset"] * 2, "resets recorded")


@test
def malformed_answers(stub):
    stub.reset()
    v2, v1 = clients(stub)
    stub.config(malformed_next=2)
    try:
        v1_simple(v1)
        raise Fail("malformed XML should not parse")
    except botocore.parsers.ResponseParserError:
        pass
    # botocore does not raise on invalid JSON in a 200: it returns no MessageId.
    r = v2_simple(v2)
    check("MessageId" not in r, f"malformed v2 answer has no MessageId: {r}")
    eq(len(stub.sent()), 0, "malformed answers are not accepted sends")
    check(MID_RE.match(v2_simple(v2)["MessageId"]), "next answer fine")


@test
def control_api(stub):
    stub.reset()
    v2, _ = clients(stub)
    st, cfg = stub.call("GET", "/_stub/config")
    eq(st, 200, "GET config")
    for k in ("rate", "daily_quota", "paused", "fail_5xx", "fail_next_5xx", "fail_next",
              "delay_ms", "delay_next", "drop_next", "reset_next", "malformed_next",
              "verified", "region", "auth"):
        check(k in cfg, f"config has {k}")
    st, out = stub.call("POST", "/_stub/config", {"rate": 5, "bogus": 1})
    eq(st, 400, "unknown key refused")
    check("bogus" in out["error"], "error names the key")
    st, out = stub.call("POST", "/_stub/config", {"rate": 5, "fail_5xx": 2})
    eq(st, 400, "bad value refused")
    eq(stub.call("GET", "/_stub/config")[1]["rate"], None, "nothing applied on error")
    st, out = stub.call("POST", "/_stub/config", {"rate": 7})
    eq((st, out["rate"]), (200, 7.0), "POST config returns new settings")
    for i in range(5):
        v2_simple(v2, to=[f"r{i}@example.net"])
    st, page = stub.call("GET", "/_stub/sent?since=3")
    eq((page["total"], page["since"], page["next"], len(page["messages"])), (5, 3, 5, 2),
       "sent?since")
    eq([m["index"] for m in page["messages"]], [3, 4], "indexes")
    eq(page["messages"][0]["to"], ["r3@example.net"], "since picks the right ones")
    st, page = stub.call("GET", "/_stub/sent?since=1&limit=2")
    eq([m["index"] for m in page["messages"]], [1, 2], "limit")
    stub.config(fail_next=["MessageRejected"])
    expect_error(lambda: v2_simple(v2), "MessageRejected", 400)
    st, rj = stub.call("GET", "/_stub/rejected")
    eq((rj["total"], rj["rejected"][0]["code"], rj["rejected"][0]["status"]),
       (1, "MessageRejected", 400), "rejected list")
    s = stub.stats()
    eq((s["accepted_messages"], s["accepted_recipients"], s["rejected_requests"]),
       (5, 5, 1), "stats counts")
    eq(s["rejected_by_code"], {"MessageRejected": 1}, "rejected by code")
    eq(s["max_recipients_in_1s_window"], 5, "stats window")
    stub.reset(settings=False)
    eq(stub.call("GET", "/_stub/config")[1]["rate"], 7.0, "reset keeps settings on request")
    eq(stub.stats()["accepted_messages"], 0, "reset clears records")
    stub.reset()
    eq(stub.call("GET", "/_stub/config")[1]["rate"], None, "reset restores startup settings")
    st, _ = stub.call("GET", "/_stub/nothing")
    eq(st, 404, "unknown control path")


@test
def keep_alive(stub):
    stub.reset()
    before = stub.stats()["connections"]
    c = http.client.HTTPConnection("127.0.0.1", stub.port, timeout=10)
    sock = None
    for i in range(30):
        if i % 2:
            body = b"Action=GetSendQuota&Version=2010-12-01"
            h = signed(stub, "POST", "/", body,
                       {"Content-Type": "application/x-www-form-urlencoded"})
            r, data = raw(stub, "POST", "/", body, h, conn=c)
            check(b"<GetSendQuotaResult>" in data, "v1 answer")
        else:
            h = signed(stub, "GET", "/v2/email/account")
            r, data = raw(stub, "GET", "/v2/email/account", b"", h, conn=c)
            json.loads(data)
        eq(r.status, 200, "status")
        check(r.getheader("Content-Length") is not None, "Content-Length always sent")
        check(r.getheader("x-amzn-RequestId"), "x-amzn-RequestId on every answer")
        check((r.getheader("Connection") or "").lower() != "close", "kept open")
        sock = sock or c.sock
        check(c.sock is sock, "same socket reused")
    c.close()
    eq(stub.stats()["connections"] - before - 1, 1, "one connection for 30 requests")
    # Connection: close is honoured.
    c = http.client.HTTPConnection("127.0.0.1", stub.port, timeout=10)
    h = signed(stub, "GET", "/v2/email/account")
    h["Connection"] = "close"
    r, _ = raw(stub, "GET", "/v2/email/account", b"", h, conn=c)
    eq((r.getheader("Connection") or "").lower(), "close", "Connection: close answered")
    c.close()


@test
def auth_format_checks(stub):
    stub.reset()
    v2u, v1u = clients(stub, unsigned=True)
    expect_error(lambda: v2_simple(v2u), "MissingAuthenticationTokenException", 403,
                 "Missing Authentication Token")
    expect_error(lambda: v1_simple(v1u), "MissingAuthenticationToken", 403,
                 "Request is missing Authentication Token")
    body = b"Action=GetSendQuota&Version=2010-12-01"
    ct = {"Content-Type": "application/x-www-form-urlencoded"}
    # Incomplete Authorization header
    h = dict(ct, Authorization="AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/ses/"
             "aws4_request", **{"X-Amz-Date": "20240101T000000Z"})
    r, data = raw(stub, "POST", "/", body, h)
    eq(r.status, 400, "v1 IncompleteSignature status")
    check(b"<Code>IncompleteSignature</Code>" in data, "v1 IncompleteSignature code")
    r, data = raw(stub, "GET", "/v2/email/account", b"", h)
    eq(r.status, 403, "v2 IncompleteSignatureException status")
    check(r.getheader("x-amzn-ErrorType", "").startswith("IncompleteSignatureException:"),
          "v2 x-amzn-ErrorType")
    check("message" in json.loads(data), "v2 JSON message")
    # host not signed
    h2 = signed(stub, "POST", "/", body, ct)
    h2["Authorization"] = h2["Authorization"].replace("SignedHeaders=content-type;host;",
                                                      "SignedHeaders=content-type;")
    r, data = raw(stub, "POST", "/", body, h2)
    check(b"IncompleteSignature" in data, f"host must be signed: {data[:200]!r}")
    # wrong service in the scope
    h3 = signed(stub, "POST", "/", body, ct, service="email")
    r, data = raw(stub, "POST", "/", body, h3)
    eq(r.status, 403, "wrong service -> 403")
    check(b"<Code>SignatureDoesNotMatch</Code>" in data and b"'ses'" in data,
          "wrong service scope")
    # format mode accepts any well-formed signature
    h4 = signed(stub, "POST", "/", body, ct, secret="whatever")
    r, data = raw(stub, "POST", "/", body, h4)
    eq(r.status, 200, "format mode accepts any secret")
    eq([x["code"] for x in stub.rejected()],
       ["MissingAuthenticationTokenException", "MissingAuthenticationToken",
        "IncompleteSignature", "IncompleteSignatureException", "IncompleteSignature",
        "SignatureDoesNotMatch"], "auth rejections recorded")


def _raw_exchange(stub, data, until_close=False):
    s = socket.create_connection(("127.0.0.1", stub.port), timeout=10)
    s.sendall(data)
    got = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        got += d
        if not until_close and b"\r\n\r\n" in got:
            head, _, rest = got.partition(b"\r\n\r\n")
            m = re.search(rb"Content-Length: (\d+)", head)
            if m and len(rest) >= int(m.group(1)) and not head.startswith(b"HTTP/1.1 100"):
                break
    s.close()
    return got


@test
def http_edge_cases(stub):
    stub.reset()
    body = json.dumps({"FromEmailAddress": "s@example.com",
                       "Destination": {"ToAddresses": ["a@example.net"]},
                       "Content": {"Simple": {"Subject": {"Data": "x"},
                                              "Body": {"Text": {"Data": "y" * 3000}}}}}).encode()
    h = signed(stub, "POST", "/v2/email/outbound-emails", body,
               {"Content-Type": "application/json"})
    head = "".join(f"{k}: {v}\r\n" for k, v in h.items())
    # Expect: 100-continue gets an interim 100 before the answer.
    got = _raw_exchange(stub, (f"POST /v2/email/outbound-emails HTTP/1.1\r\n{head}"
                               f"Expect: 100-continue\r\nContent-Length: {len(body)}\r\n"
                               "Connection: close\r\n\r\n").encode() + body, until_close=True)
    check(got.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK"),
          f"100-continue: {got[:60]!r}")
    # Chunked request body.
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 1000]), body[i:i + 1000])
                       for i in range(0, len(body), 1000)) + b"0\r\n\r\n"
    got = _raw_exchange(stub, (f"POST /v2/email/outbound-emails HTTP/1.1\r\n{head}"
                               "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                               ).encode() + chunked, until_close=True)
    check(got.startswith(b"HTTP/1.1 200 OK") and b'"MessageId"' in got, "chunked body")
    # HTTP/1.0 without keep-alive: answered, then closed.
    hg = signed(stub, "GET", "/v2/email/account")
    got = _raw_exchange(stub, ("GET /v2/email/account HTTP/1.0\r\n" +
                               "".join(f"{k}: {v}\r\n" for k, v in hg.items()) +
                               "\r\n").encode(), until_close=True)
    check(got.startswith(b"HTTP/1.1 200 OK") and b"Connection: close" in got, "HTTP/1.0")
    eq(len(stub.sent()), 2, "both sends accepted")
    # Unknown operations and unparsable bodies.
    ct = {"Content-Type": "application/x-www-form-urlencoded"}
    r, data = raw(stub, "POST", "/", b"Action=ListIdentities",
                  signed(stub, "POST", "/", b"Action=ListIdentities", ct))
    check(r.status == 400 and b"<Code>InvalidAction</Code>" in data, "v1 unknown action")
    r, data = raw(stub, "GET", "/", b"", signed(stub, "GET", "/"))
    check(r.status == 400 and b"<Code>InvalidAction</Code>" in data, "GET /")
    r, data = raw(stub, "GET", "/v2/email/identities", b"",
                  signed(stub, "GET", "/v2/email/identities"))
    check(r.status == 404 and r.getheader("x-amzn-ErrorType", "").startswith(
        "UnknownOperationException:"), "v2 unknown operation")
    r, data = raw(stub, "POST", "/v2/email/outbound-emails", b"{bad",
                  signed(stub, "POST", "/v2/email/outbound-emails", b"{bad",
                         {"Content-Type": "application/json"}))
    check(r.status == 400 and r.getheader("x-amzn-ErrorType", "").startswith(
        "SerializationException:"), "v2 bad JSON")


def load_stub_module():
    spec = importlib.util.spec_from_file_location("ses_stub", STUB)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@test
def sigv4_known_answer(stub):
    mod = load_stub_module()
    headers = {"content-type": ["application/x-www-form-urlencoded"],
               "host": ["example.amazonaws.com"], "x-amz-date": ["20150830T123600Z"]}
    signed_h = ["content-type", "host", "x-amz-date"]
    creq = mod.canonical_request("POST", "/", "", headers, signed_h, b"Param1=value1")
    sts = mod.string_to_sign("20150830T123600Z", "20150830/us-east-1/service/aws4_request",
                             creq)
    key = mod.signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830",
                          "us-east-1", "service")
    import hashlib
    import hmac
    sig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
    eq(sig, "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
       "AWS published vector post-x-www-form-urlencoded")


@test
def signature_verification(stub):
    good = Stub("--secret", f"{KEY}:{SECRET}", "--secret", "AKIDOTHER:other-secret")
    try:
        v2, v1 = clients(good)
        check(MID_RE.match(v2_simple(v2)["MessageId"]), "v2 good signature")
        check(MID_RE.match(v1_simple(v1)["MessageId"]), "v1 good signature")
        v1.send_raw_email(RawMessage={"Data": mime()})
        v2.send_email(Content={"Raw": {"Data": mime()}})
        v2.get_account()
        v1.get_send_quota()
        v2o, _ = clients(good, key="AKIDOTHER", secret="other-secret")
        v2o.get_account()
        v2t, _ = clients(good, token="session-token-value")
        v2t.get_account()          # x-amz-security-token is signed too
        bad2, bad1 = clients(good, secret="wrong-secret")
        expect_error(lambda: v2_simple(bad2), "InvalidSignatureException", 403, SIG_MSG)
        expect_error(lambda: v1_simple(bad1), "SignatureDoesNotMatch", 403, SIG_MSG)
        expect_error(lambda: bad2.get_account(), "InvalidSignatureException", 403, SIG_MSG)
        unk2, unk1 = clients(good, key="AKIDUNKNOWN")
        expect_error(lambda: v2_simple(unk2), "UnrecognizedClientException", 403, TOKEN_MSG)
        expect_error(lambda: unk1.get_send_quota(), "InvalidClientTokenId", 403, TOKEN_MSG)
        reg2, _ = clients(good, region="eu-west-1")
        expect_error(lambda: reg2.get_account(), "InvalidSignatureException", 403,
                     "Credential should be scoped to a valid region.")
        # Tampered body after signing
        body = b"Action=GetSendQuota&Version=2010-12-01"
        h = signed(good, "POST", "/", body, {"Content-Type": "application/x-www-form-urlencoded"})
        r, data = raw(good, "POST", "/", body.replace(b"Quota", b"Quote"), h)
        eq(r.status, 403, "tampered body")
        check(b"<Code>SignatureDoesNotMatch</Code>" in data, "tampered body code")
        # Stale clock: signed an hour ago
        import datetime
        past = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - \
            datetime.timedelta(hours=1)
        with unittest.mock.patch("botocore.auth.get_current_datetime", return_value=past):
            e = expect_error(lambda: v2.get_account(), "InvalidSignatureException", 403,
                             prefix="Signature expired: ")
            expect_error(lambda: v1.get_send_quota(), "SignatureDoesNotMatch", 403,
                         prefix="Signature expired: ")
        if VERBOSE:
            print(f"    stale clock: {e.response['Error']['Message']}")
        eq(len(good.sent()), 4, "only the good sends accepted")
    finally:
        good.stop()
    # The published vector over HTTP: a stub with that key and no clock check verifies
    # it (and then answers InvalidAction, since Param1=value1 names no action).
    kv = Stub("--secret", "AKIDEXAMPLE:wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
              "--max-skew", "0")
    try:
        mod = load_stub_module()
        auth = ("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/ses/aws4_request, "
                "SignedHeaders=content-type;host;x-amz-date, Signature=")
        hdrs = {"content-type": ["application/x-www-form-urlencoded"],
                "host": ["example.amazonaws.com"], "x-amz-date": ["20150830T123600Z"]}
        creq = mod.canonical_request("POST", "/", "", hdrs,
                                     ["content-type", "host", "x-amz-date"], b"Param1=value1")
        import hashlib
        import hmac
        sig = hmac.new(mod.signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830",
                                       "us-east-1", "ses"),
                       mod.string_to_sign("20150830T123600Z",
                                          "20150830/us-east-1/ses/aws4_request",
                                          creq).encode(), hashlib.sha256).hexdigest()
        h = {"Content-Type": "application/x-www-form-urlencoded",
             "Host": "example.amazonaws.com", "X-Amz-Date": "20150830T123600Z",
             "Authorization": auth + sig}
        r, data = raw(kv, "POST", "/", b"Param1=value1", h)
        check(b"<Code>InvalidAction</Code>" in data, f"vector request verified: {data!r}")
        h["Authorization"] = auth + ("0" * 64)
        r, data = raw(kv, "POST", "/", b"Param1=value1", h)
        check(b"<Code>SignatureDoesNotMatch</Code>" in data, "wrong signature refused")
    finally:
        kv.stop()


@test
def port_file_and_flags(stub):
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        pf = os.path.join(d, "port")
        s = Stub("--port-file", pf, "--rate", "2", "--daily-quota", "9", "--verified",
                 "example.com", "--paused", "--region", "eu-west-1", "--fail-5xx", "0",
                 "--set", "fail_next=[\"Throttling\"]")
        try:
            eq(int(open(pf).read()), s.port, "port file")
            cfg = s.call("GET", "/_stub/config")[1]
            eq((cfg["rate"], cfg["daily_quota"], cfg["verified"], cfg["paused"],
                cfg["region"], cfg["fail_next"]),
               (2.0, 9, ["example.com"], True, "eu-west-1", ["Throttling"]), "flags")
            v2, v1 = clients(s, region="eu-west-1")
            expect_error(lambda: v2_simple(v2), "TooManyRequestsException", 429)
            s.config(paused=False)
            expect_error(lambda: v1_simple(v1, frm="x@other.org"), "MessageRejected", 400,
                         "Email address is not verified. The following identities failed "
                         "the check in region EU-WEST-1: x@other.org")
        finally:
            s.stop()
        eq(s.proc.returncode, 0, "stub exits 0 on SIGTERM")


# ---------------------------------------------------------------------------------------
# Throughput (informational unless --bench-min is given)


def _bench_worker(port, body, head, seconds, q):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    req = head + body
    n = bad = 0
    buf = b""
    stop = time.monotonic() + seconds
    while time.monotonic() < stop:
        s.sendall(req)
        while True:
            i = buf.find(b"\r\n\r\n")
            if i >= 0:
                m = re.search(rb"Content-Length: (\d+)", buf[:i])
                need = i + 4 + int(m.group(1))
                if len(buf) >= need:
                    if not buf.startswith(b"HTTP/1.1 200"):
                        bad += 1
                    buf = buf[need:]
                    break
            d = s.recv(65536)
            if not d:
                raise RuntimeError("closed")
            buf += d
        n += 1
    s.close()
    q.put((n, bad))


def bench(seconds, conns=8):
    s = Stub("--no-record-bodies")
    try:
        body = json.dumps({"FromEmailAddress": "s@example.com",
                           "Destination": {"ToAddresses": ["a@example.net"]},
                           "Content": {"Simple": {"Subject": {"Data": "x"},
                                                  "Body": {"Text": {"Data": "y"}}}}}).encode()
        h = signed(s, "POST", "/v2/email/outbound-emails", body,
                   {"Content-Type": "application/json"})
        head = ("POST /v2/email/outbound-emails HTTP/1.1\r\n" +
                "".join(f"{k}: {v}\r\n" for k, v in h.items()) +
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        q = multiprocessing.Queue()
        ps = [multiprocessing.Process(target=_bench_worker,
                                      args=(s.port, body, head, seconds, q))
              for _ in range(conns)]
        for p in ps:
            p.start()
        res = [q.get(timeout=seconds + 30) for _ in ps]
        for p in ps:
            p.join(10)
        total = sum(n for n, _ in res)
        bad = sum(b for _, b in res)
        st = s.stats()
        return total / seconds, bad, st["accepted_messages"], total
    finally:
        s.stop()


def main():
    global VERBOSE
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("-k", help="run only tests whose name contains this")
    ap.add_argument("--bench", type=float, default=3.0,
                    help="seconds of the throughput run (0: skip; default 3)")
    ap.add_argument("--bench-min", type=float, default=0,
                    help="fail if the throughput is below this many requests/s")
    a = ap.parse_args()
    VERBOSE = a.verbose
    stub = Stub()
    passed = failed = 0
    try:
        for fn in TESTS:
            if a.k and a.k not in fn.__name__:
                continue
            t = time.monotonic()
            try:
                fn(stub)
                passed += 1
                print(f"PASS {fn.__name__} ({time.monotonic() - t:.2f}s)")
            except Exception as e:
                failed += 1
                print(f"FAIL {fn.__name__}: {type(e).__name__}: {e}")
                if VERBOSE or not isinstance(e, Fail):
                    traceback.print_exc()
    finally:
        stub.stop()
    if a.bench > 0 and not a.k:
        try:
            rps, bad, accepted, total = bench(a.bench)
            ok = bad == 0 and accepted == total and rps >= a.bench_min
            print(f"{'PASS' if ok else 'FAIL'} throughput: {rps:.0f} SendEmail requests/s "
                  f"from 8 keep-alive connections ({total} sent, {accepted} recorded, "
                  f"{bad} non-200)")
            passed, failed = (passed + 1, failed) if ok else (passed, failed + 1)
        except Exception as e:
            failed += 1
            print(f"FAIL throughput: {type(e).__name__}: {e}")
    print(f"ses-stub selftest: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
