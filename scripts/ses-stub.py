#!/usr/bin/env python3
"""ses-stub: a local stand-in for Amazon SES, for hworker-ses's tests and benchmarks.

Speaks both SES wire protocols on 127.0.0.1 only:

  * SES v2 (REST-JSON):  POST /v2/email/outbound-emails   (SendEmail)
                         GET  /v2/email/account           (GetAccount)
  * SES v1 (Query/XML):  POST /  Action=SendEmail | SendRawEmail | GetSendQuota

and adds a control API under /_stub/ (no auth needed) to change limits and inject
faults at run time and to read back what was accepted or rejected:

  GET  /_stub/config            current settings (JSON)
  POST /_stub/config            merge a JSON object of settings (see SETTINGS below)
  GET  /_stub/sent?since=N      accepted messages from index N on
  GET  /_stub/rejected?since=N  rejected requests from index N on
  GET  /_stub/stats             counters, largest recipients in any 1 s window
  POST /_stub/reset             clear records, windows and counters; settings back to
                                the command-line values (body {"settings": false} keeps them)
  GET  /_stub/health            {"ok": true}
  POST /_stub/shutdown          stop the stub

Standard library only (Python 3.11).  Run with --help for the flags.

Error answers follow what SES sends on the wire; where no primary source was found,
the choice is marked "stub choice" in ERRORS below.

Semantics worth knowing:
  * `rate` counts recipients (To+Cc+Bcc, or a raw message's destinations) accepted in the
    last second (sliding window, monotonic clock); a send that would exceed it is refused
    whole and not recorded.  A message with more recipients than `rate` is always refused.
  * `daily_quota` counts recipients accepted in the last 24 h since the stub started.
  * Order of checks for a send: drop/delay faults, signature, reset/malformed/injected
    errors, message validation (From, recipients, 50-recipient limit, size, configuration
    set), paused, verified identities, daily quota, rate.
  * Faults count SES requests of every operation unless `fault_ops` is "send".
"""

import argparse
import base64
import binascii
import collections
import email.header
import email.parser
import email.policy
import email.utils
import hashlib
import hmac
import http.server
import json
import os
import random
import re
import signal
import socket
import ssl
import struct
import sys
import threading
import time
import urllib.parse
from xml.sax.saxutils import escape as xml_escape

XMLNS = "http://ses.amazonaws.com/doc/2010-12-01/"
# Namespace suffix of x-amzn-ErrorType for SES v2 service errors.  botocore keeps only the
# part before the first ':' so the suffix never matters to clients; stub choice of text.
V2_ERR_NS = "http://internal.amazon.com/coral/com.amazonaws.services.email/"
# Authentication errors come from AWS's common front end, which names this namespace.
AUTH_ERR_NS = "http://internal.amazon.com/coral/com.amazon.coral.service/"

SIG_MISMATCH_MSG = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)

# key -> (v1 status, v1 code, v2 status, v2 code, message [, v2 message])
# The message may contain {region}, {source}, {config_set}, {size}; filled per request.
ERRORS = {
    # Seen on the wire: v1 XML 400 Throttling; v2 429 TooManyRequestsException with
    # {"message":"Maximum sending rate exceeded."}.
    "Throttling": (400, "Throttling", 429, "TooManyRequestsException",
                   "Maximum sending rate exceeded."),
    # v1: Throttling "Daily message quota exceeded." (AWS docs).  v2: no wire sample found;
    # stub choice: the same 429 TooManyRequestsException as the rate case, with the daily
    # message (AWS docs say the API gives a throttling error with one of the two messages).
    "DailyQuotaExceeded": (400, "Throttling", 429, "TooManyRequestsException",
                           "Daily message quota exceeded."),
    "ThrottlingException": (400, "ThrottlingException", 400, "ThrottlingException",
                            "Rate exceeded"),
    "MessageRejected": (400, "MessageRejected", 400, "MessageRejected",
                        "Email address is not verified. The following identities failed "
                        "the check in region {region}: {source}"),
    # v1 "InvalidParameterValue" is seen on the wire (e.g. "Recipient count exceeds 50.",
    # "Missing required header 'From'.").  v2 equivalent: BadRequestException (stub choice).
    "InvalidParameterValue": (400, "InvalidParameterValue", 400, "BadRequestException",
                              "Invalid parameter value."),
    "MailFromDomainNotVerifiedException": (400, "MailFromDomainNotVerifiedException", 400,
                                           "MailFromDomainNotVerifiedException",
                                           "The MAIL FROM domain is not verified."),
    "ConfigurationSetDoesNotExist": (400, "ConfigurationSetDoesNotExist", 404,
                                     "NotFoundException",
                                     "Configuration set <{config_set}> does not exist."),
    "AccountSendingPausedException": (400, "AccountSendingPausedException", 400,
                                      "SendingPausedException",
                                      "Sending is paused for this account."),
    "ConfigurationSetSendingPausedException": (400, "ConfigurationSetSendingPausedException",
                                               400, "SendingPausedException",
                                               "Sending is paused for this configuration set."),
    "AccountSuspendedException": (400, "AccountSendingPausedException", 400,
                                  "AccountSuspendedException",
                                  "Sending is paused for this account.",
                                  "The account has been suspended and can no longer send email."),
    "LimitExceededException": (400, "LimitExceeded", 400, "LimitExceededException",
                               "Limit exceeded."),
    "MessageTooLong": (400, "MessageRejected", 400, "MessageRejected",
                       "Message length is more than the allowed maximum: '{size}'."),
    # Authentication.  v1 codes/messages are seen on the wire; v2 codes are those other
    # SES v2 users report (UnrecognizedClientException, InvalidSignatureException,
    # MissingAuthenticationTokenException), all 403.
    "SignatureDoesNotMatch": (403, "SignatureDoesNotMatch", 403, "InvalidSignatureException",
                              SIG_MISMATCH_MSG),
    "InvalidClientTokenId": (403, "InvalidClientTokenId", 403, "UnrecognizedClientException",
                             "The security token included in the request is invalid."),
    "IncompleteSignature": (400, "IncompleteSignature", 403, "IncompleteSignatureException",
                            "Authorization header requires 'Credential' parameter."),
    "MissingAuthenticationToken": (403, "MissingAuthenticationToken", 403,
                                   "MissingAuthenticationTokenException",
                                   "Request is missing Authentication Token",
                                   "Missing Authentication Token"),
    "ExpiredToken": (400, "ExpiredToken", 403, "ExpiredTokenException",
                     "The security token included in the request is expired"),
    # Stub choice for injection; a real clock skew is answered as SignatureDoesNotMatch /
    # InvalidSignatureException "Signature expired: ..." (see verify_sigv4).
    "RequestExpired": (400, "RequestExpired", 400, "RequestExpired", "Request has expired."),
    "AccessDenied": (403, "AccessDenied", 403, "AccessDeniedException",
                     "User is not authorized to perform this action."),
    "InternalFailure": (500, "InternalFailure", 500, "InternalFailure",
                        "The request processing has failed because of an unknown error, "
                        "exception or failure."),
    "InternalServiceErrorException": (500, "InternalFailure", 500,
                                      "InternalServiceErrorException",
                                      "The request processing has failed because of an "
                                      "unknown error, exception or failure."),
    "ServiceUnavailable": (503, "ServiceUnavailable", 503, "ServiceUnavailable",
                           "The request has failed due to a temporary failure of the server."),
    "InvalidAction": (400, "InvalidAction", 404, "UnknownOperationException",
                      "The action {action} is not valid for this web service."),
    "SerializationException": (400, "MalformedQueryString", 400, "SerializationException",
                               "The request body could not be parsed."),
}
AUTH_KEYS = {"SignatureDoesNotMatch", "InvalidClientTokenId", "IncompleteSignature",
             "MissingAuthenticationToken", "ExpiredToken", "AccessDenied"}
ALIASES = {
    "TooManyRequestsException": "Throttling",
    "MaxSendRateExceeded": "Throttling",
    "DailyQuota": "DailyQuotaExceeded",
    "BadRequestException": "InvalidParameterValue",
    "SendingPausedException": "AccountSendingPausedException",
    "AccountSendingPaused": "AccountSendingPausedException",
    "InvalidSignatureException": "SignatureDoesNotMatch",
    "UnrecognizedClientException": "InvalidClientTokenId",
    "IncompleteSignatureException": "IncompleteSignature",
    "MissingAuthenticationTokenException": "MissingAuthenticationToken",
    "ExpiredTokenException": "ExpiredToken",
    "AccessDeniedException": "AccessDenied",
    "NotFoundException": "ConfigurationSetDoesNotExist",
    "ConfigurationSetDoesNotExistException": "ConfigurationSetDoesNotExist",
    "LimitExceeded": "LimitExceededException",
    "UnknownOperationException": "InvalidAction",
}

REASONS = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found",
           405: "Method Not Allowed", 413: "Payload Too Large", 429: "Too Many Requests",
           500: "Internal Server Error", 503: "Service Unavailable"}

MAX_RECIPIENTS = 50
MAX_SIZE = {"v1": 10 * 1024 * 1024, "v2": 40 * 1024 * 1024}
MAX_BODY = 64 * 1024 * 1024

# ---------------------------------------------------------------------------------------
# Settings


def _nullable(conv):
    def f(v):
        return None if v is None else conv(v)
    return f


def _nonneg_int(v):
    if isinstance(v, bool) or int(v) != v or int(v) < 0:
        raise ValueError("expected a non-negative integer")
    return int(v)


def _nonneg_float(v):
    if isinstance(v, bool):
        raise ValueError("expected a number")
    f = float(v)
    if f < 0:
        raise ValueError("expected a non-negative number")
    return f


def _rate(v):
    f = _nonneg_float(v)
    return None if f == 0 else f


def _fraction(v):
    f = _nonneg_float(v)
    if f > 1:
        raise ValueError("expected a fraction between 0 and 1")
    return f


def _bool(v):
    if isinstance(v, bool):
        return v
    raise ValueError("expected true or false")


def _paused(v):
    if v in (False, None, "", "false", "no"):
        return False
    if v in (True, "true", "paused", "yes"):
        return True
    if v == "suspended":
        return "suspended"
    raise ValueError('expected true, false or "suspended"')


def _choice(*options):
    def f(v):
        if v not in options:
            raise ValueError(f"expected one of {', '.join(options)}")
        return v
    return f


def _str_list(v):
    if v is None:
        return None
    if isinstance(v, str):
        v = [x for x in (p.strip() for p in v.split(",")) if x]
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise ValueError("expected a list of strings or a comma-separated string")
    return list(v)


def _fail_list(v):
    if isinstance(v, (str, dict)):
        v = [v]
    if not isinstance(v, list):
        raise ValueError("expected a list of error codes")
    out = []
    for item in v:
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict) and isinstance(item.get("code"), str):
            out.append(dict(item))
        else:
            raise ValueError('each item must be a code string or {"code": ..., '
                             '"status": ..., "message": ...}')
    return out


def _credentials(v):
    if v is None:
        return {}
    if not isinstance(v, dict) or not all(isinstance(k, str) and isinstance(s, str)
                                          for k, s in v.items()):
        raise ValueError("expected an object {access key id: secret}")
    return dict(v)


SETTINGS = {
    # name: (converter, default)
    "rate": (_nullable(_rate), None),             # recipients/s enforced (None: no limit)
    "max_send_rate": (_nullable(_nonneg_float), None),   # reported MaxSendRate override
    "daily_quota": (_nullable(_nonneg_int), None),       # recipients per rolling 24 h
    "max_24_hour_send": (_nullable(float), None),        # reported Max24HourSend override
    "paused": (_paused, False),                   # true | false | "suspended"
    "fail_5xx": (_fraction, 0.0),                 # fraction of requests answered 5xx
    "fail_5xx_code": (_choice("InternalFailure", "ServiceUnavailable"), "InternalFailure"),
    "fail_next_5xx": (_nonneg_int, 0),            # next N requests answered 5xx
    "fail_next": (_fail_list, []),                # codes answered in order, one per request
    "delay_ms": (_nonneg_float, 0.0),             # delay before every answer
    "delay_next": (_nonneg_int, 0),               # delay only the next N requests ...
    "delay_next_ms": (_nonneg_float, 1000.0),     # ... by this much
    "drop_next": (_nonneg_int, 0),                # close without answer
    "reset_next": (_nonneg_int, 0),               # partial answer then TCP RST
    "malformed_next": (_nonneg_int, 0),           # 200 with an unparsable body
    "fault_ops": (_choice("all", "send"), "all"),  # which SES requests faults apply to
    "verified": (_str_list, None),                # addresses/domains (None: any sender)
    "sandbox": (_bool, False),                    # recipients must be verified too
    "configuration_sets": (_str_list, None),      # known sets (None: any name)
    "region": (str, "us-east-1"),
    "auth": (_choice("off", "format", "verify"), "format"),
    "credentials": (_credentials, {}),            # key id -> secret, for auth "verify"
    "max_skew_s": (_nonneg_float, 900.0),         # x-amz-date tolerance when verifying
    "record_bodies": (_bool, True),               # keep subject/bodies/raw MIME in records
    "verbose": (_bool, False),
}


def default_settings():
    return {k: (list(d) if isinstance(d, list) else dict(d) if isinstance(d, dict) else d)
            for k, (_, d) in SETTINGS.items()}


def apply_settings(current, changes):
    """Validate all of `changes` first; apply nothing if one is bad."""
    if not isinstance(changes, dict):
        raise ValueError("expected a JSON object")
    new = {}
    for k, v in changes.items():
        if k not in SETTINGS:
            raise ValueError(f"unknown setting {k!r}")
        try:
            new[k] = SETTINGS[k][0](v)
        except (TypeError, ValueError) as e:
            raise ValueError(f"bad value for {k!r}: {e}") from None
    for k in ("fail_next",):
        for item in new.get(k, []):
            code = item["code"] if isinstance(item, dict) else item
            if not isinstance(code, str) or not code:
                raise ValueError("empty error code in fail_next")
    current.update(new)
    return current


def public_settings(s):
    out = dict(s)
    out["credentials"] = sorted(s["credentials"])  # key ids only
    out["known_error_codes"] = sorted(set(ERRORS) | set(ALIASES))
    return out


# ---------------------------------------------------------------------------------------
# State


class State:
    def __init__(self, startup):
        self.lock = threading.Lock()
        self.startup = startup
        self.settings = apply_settings(default_settings(), startup)
        self.started = time.time()
        self.clear()

    def clear(self):
        self.sent = []
        self.rejected = []
        self.rate_win = collections.deque()    # (monotonic, recipients)
        self.rate_sum = 0
        self.day_win = collections.deque()
        self.day_sum = 0
        self.requests = 0
        self.control_requests = 0
        self.connections = 0
        self.accepted_recipients = 0
        self.rejected_by_code = collections.Counter()

    def reset(self, settings=True):
        with self.lock:
            self.clear()
            if settings:
                self.settings = apply_settings(default_settings(), self.startup)

    def _purge(self, now):
        w, cut = self.rate_win, now - 1.0
        while w and w[0][0] <= cut:
            self.rate_sum -= w.popleft()[1]
        d, cut = self.day_win, now - 86400.0
        while d and d[0][0] <= cut:
            self.day_sum -= d.popleft()[1]

    def sent_last_24h(self):
        self._purge(time.monotonic())
        return self.day_sum

    def quota_numbers(self):
        s = self.settings
        if s["max_24_hour_send"] is not None:
            max24 = float(s["max_24_hour_send"])
        elif s["daily_quota"] is not None:
            max24 = float(s["daily_quota"])
        else:
            max24 = -1.0   # SES's encoding of "unlimited"
        if s["max_send_rate"] is not None:
            rate = float(s["max_send_rate"])
        elif s["rate"] is not None:
            rate = float(s["rate"])
        else:
            rate = 10000.0  # no enforced rate: report a large one (stub choice)
        return max24, rate, float(self.sent_last_24h())

    def take_fault(self, stage, is_send):
        """stage 'net': drop/delay; stage 'answer': reset/malformed/fail.  Under lock."""
        s = self.settings
        if s["fault_ops"] == "send" and not is_send:
            return None, 0.0
        if stage == "net":
            if s["drop_next"]:
                s["drop_next"] -= 1
                return "drop", 0.0
            delay = s["delay_ms"] / 1000.0
            if s["delay_next"]:
                s["delay_next"] -= 1
                delay += s["delay_next_ms"] / 1000.0
            return None, delay
        if s["reset_next"]:
            s["reset_next"] -= 1
            return "reset", 0.0
        if s["malformed_next"]:
            s["malformed_next"] -= 1
            return "malformed", 0.0
        if s["fail_next"]:
            return ("fail", s["fail_next"].pop(0)), 0.0
        if s["fail_next_5xx"]:
            s["fail_next_5xx"] -= 1
            return ("fail", s["fail_5xx_code"]), 0.0
        if s["fail_5xx"] and random.random() < s["fail_5xx"]:
            return ("fail", s["fail_5xx_code"]), 0.0
        return None, 0.0

    def record_rejection(self, rec):
        with self.lock:
            rec["index"] = len(self.rejected)
            self.rejected.append(rec)
            self.rejected_by_code[rec["code"]] += 1

    def stats(self):
        with self.lock:
            times = [(r["monotonic"], r["recipient_count"]) for r in self.sent]
            out = {
                "requests": self.requests,
                "control_requests": self.control_requests,
                "connections": self.connections,
                "accepted_messages": len(self.sent),
                "accepted_recipients": self.accepted_recipients,
                "rejected_requests": len(self.rejected),
                "rejected_by_code": dict(self.rejected_by_code),
                "sent_last_24h": self.sent_last_24h(),
                "first_accepted_time": self.sent[0]["time"] if self.sent else None,
                "last_accepted_time": self.sent[-1]["time"] if self.sent else None,
                "uptime_s": time.time() - self.started,
            }
        # Largest totals in any half-open window [t, t+1 s) that starts at an acceptance
        # (monotonic timestamps; every maximal window starts at one).
        best_r = best_m = 0
        j = 0
        run_r = 0
        for i in range(len(times)):
            while j < len(times) and times[j][0] < times[i][0] + 1.0:
                run_r += times[j][1]
                j += 1
            if run_r > best_r:
                best_r = run_r
            if j - i > best_m:
                best_m = j - i
            run_r -= times[i][1]
        out["max_recipients_in_1s_window"] = best_r
        out["max_messages_in_1s_window"] = best_m
        return out


# ---------------------------------------------------------------------------------------
# SigV4


class AuthError(Exception):
    def __init__(self, key, message):
        super().__init__(message)
        self.key = key
        self.message = message


_AMZ_DATE = re.compile(r"^\d{8}T\d{6}Z$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_key_cache = {}


def _hmac(key, msg):
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def signing_key(secret, date, region, service):
    ck = (secret, date, region, service)
    k = _key_cache.get(ck)
    if k is None:
        k = _hmac(_hmac(_hmac(_hmac(("AWS4" + secret).encode("utf-8"), date), region),
                        service), "aws4_request")
        if len(_key_cache) > 256:
            _key_cache.clear()
        _key_cache[ck] = k
    return k


def _normalize_path(path):
    if not path:
        return "/"
    out = []
    for seg in path.split("/"):
        if seg == "..":
            if out:
                out.pop()
        elif seg != ".":
            out.append(seg)
    p = "/".join(out)
    if not p.startswith("/"):
        p = "/" + p
    if path.endswith("/") and not p.endswith("/"):
        p += "/"
    return p


def canonical_request(method, path, query, headers, signed, body):
    """`headers`: lower-case name -> list of raw values; `signed`: list of names."""
    uri = urllib.parse.quote(_normalize_path(path), safe="/~")
    pairs = []
    for part in query.split("&") if query else ():
        if not part:
            continue
        k, _, v = part.partition("=")
        pairs.append((urllib.parse.quote(urllib.parse.unquote(k), safe="-_.~"),
                      urllib.parse.quote(urllib.parse.unquote(v), safe="-_.~")))
    cq = "&".join(f"{k}={v}" for k, v in sorted(pairs))
    ch = "".join(f"{n}:{','.join(' '.join(v.split()) for v in headers.get(n, ()))}\n"
                 for n in signed)
    return "\n".join((method, uri, cq, ch, ";".join(signed),
                      hashlib.sha256(body).hexdigest()))


def string_to_sign(amz_date, scope, creq):
    return "\n".join(("AWS4-HMAC-SHA256", amz_date, scope,
                      hashlib.sha256(creq.encode("utf-8")).hexdigest()))


def parse_authorization(value):
    """Check the form of a SigV4 Authorization header; return its parts."""
    if not value.startswith("AWS4-HMAC-SHA256"):
        alg = value.split(" ", 1)[0]
        raise AuthError("IncompleteSignature",
                        f"Unsupported AWS 'algorithm': '{alg}'.")
    params = {}
    for part in value[len("AWS4-HMAC-SHA256"):].split(","):
        k, sep, v = part.strip().partition("=")
        if sep:
            params[k.strip()] = v.strip()
    missing = [n for n in ("Credential", "Signature", "SignedHeaders") if n not in params]
    if missing:
        raise AuthError("IncompleteSignature", " ".join(
            f"Authorization header requires '{n}' parameter." for n in missing)
            + f" Authorization={value}")
    cred = params["Credential"].split("/")
    if len(cred) != 5 or cred[4] != "aws4_request" or not cred[0]:
        raise AuthError("IncompleteSignature",
                        "Credential must have exactly 5 slash-delimited elements, e.g. "
                        f"keyid/date/region/service/term, got '{params['Credential']}'")
    signed = params["SignedHeaders"].split(";")
    if "host" not in signed and ":authority" not in signed:
        raise AuthError("IncompleteSignature",
                        "'Host' or ':authority' must be a 'SignedHeader' in the AWS "
                        "Authorization.")
    if not _HEX64.match(params["Signature"]):
        raise AuthError("IncompleteSignature",
                        "Signature must be 64 lower-case hexadecimal characters.")
    return cred, signed, params["Signature"]


def check_sigv4(settings, method, path, query, headers, body):
    """Raise AuthError unless the request carries an acceptable SigV4 signature.

    `headers`: lower-case name -> list of values.  auth "format" checks the form only;
    "verify" also recomputes the signature with the configured credentials.
    """
    mode = settings["auth"]
    if mode == "off":
        return None
    auth = headers.get("authorization")
    if not auth:
        raise AuthError("MissingAuthenticationToken", None)
    cred, signed, sig = parse_authorization(auth[0])
    key_id, date, region, service = cred[:4]
    amz = headers.get("x-amz-date")
    if not amz:
        raise AuthError("IncompleteSignature",
                        "Authorization header requires existence of either a 'X-Amz-Date' "
                        "or a 'Date' header.")
    amz_date = amz[0].strip()
    if not _AMZ_DATE.match(amz_date):
        raise AuthError("IncompleteSignature",
                        f"X-Amz-Date must be in the ISO8601 Long Format, got '{amz_date}'.")
    if "x-amz-date" not in signed:
        raise AuthError("IncompleteSignature",
                        "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.")
    if service != "ses":
        raise AuthError("SignatureDoesNotMatch",
                        "Credential should be scoped to correct service: 'ses'.")
    if date != amz_date[:8]:
        raise AuthError("SignatureDoesNotMatch",
                        "Date in Credential scope does not match YYYYMMDD from ISO-8601 "
                        f"version of date from HTTP: '{date}' != '{amz_date[:8]}', from "
                        f"'{amz_date}'.")
    if mode != "verify":
        return key_id
    if region != settings["region"]:
        raise AuthError("SignatureDoesNotMatch",
                        "Credential should be scoped to a valid region.")
    secret = settings["credentials"].get(key_id)
    if secret is None:
        raise AuthError("InvalidClientTokenId", None)
    skew = settings["max_skew_s"]
    if skew:
        try:
            t = time.mktime(time.strptime(amz_date, "%Y%m%dT%H%M%SZ")) - time.timezone
        except ValueError:
            raise AuthError("IncompleteSignature", f"Invalid X-Amz-Date '{amz_date}'.")
        now = time.time()
        fmt = "%Y%m%dT%H%M%SZ"
        if t < now - skew:
            raise AuthError("SignatureDoesNotMatch",
                            f"Signature expired: {amz_date} is now earlier than "
                            f"{time.strftime(fmt, time.gmtime(now - skew))} "
                            f"({time.strftime(fmt, time.gmtime(now))} - "
                            f"{int(skew // 60)} min.)")
        if t > now + skew:
            raise AuthError("SignatureDoesNotMatch",
                            f"Signature not yet current: {amz_date} is still later than "
                            f"{time.strftime(fmt, time.gmtime(now + skew))} "
                            f"({time.strftime(fmt, time.gmtime(now))} + "
                            f"{int(skew // 60)} min.)")
    creq = canonical_request(method, path, query, headers, signed, body)
    sts = string_to_sign(amz_date, "/".join(cred[1:]), creq)
    want = hmac.new(signing_key(secret, date, region, service), sts.encode("utf-8"),
                    hashlib.sha256).hexdigest()
    if not hmac.compare_digest(want, sig):
        raise AuthError("SignatureDoesNotMatch", None)
    return key_id


# ---------------------------------------------------------------------------------------
# Message parsing helpers

_HEADER_PARSER = email.parser.BytesHeaderParser(policy=email.policy.compat32)


_PLAIN_ADDR = re.compile(r"^[^\s<>()\",;:@]+@[^\s<>()\",;:@]+$")


def _addr(a):
    """The bare address of "Name <addr>" or "addr" (fast path for the plain form)."""
    if not a:
        return ""
    if _PLAIN_ADDR.match(a):
        return a
    return email.utils.parseaddr(a)[1]


def new_uuid():
    """A random (version 4) UUID string, cheaper than going through the uuid module."""
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:32]}"


def _decode_header(v):
    if v is None:
        return None
    try:
        return str(email.header.make_header(email.header.decode_header(v)))
    except Exception:
        return str(v)


def parse_mime(raw):
    """Return (headers of interest) from raw MIME bytes."""
    msg = _HEADER_PARSER.parsebytes(raw)

    def addrs(name):
        vals = msg.get_all(name) or []
        return [a for _, a in email.utils.getaddresses([str(v) for v in vals]) if a]

    return {
        "from": addrs("From"),
        "to": addrs("To"), "cc": addrs("Cc"), "bcc": addrs("Bcc"),
        "reply_to": addrs("Reply-To"),
        "subject": _decode_header(msg.get("Subject")),
    }


def members(params, prefix):
    out = []
    n = 1
    while True:
        v = params.get(f"{prefix}.member.{n}")
        if v is None:
            return out
        out.append(v)
        n += 1


def new_message_id():
    ms = int(time.time() * 1000)
    return f"{0x0100000000000000 + ms:016x}-{new_uuid()}-000000"


class SendError(Exception):
    def __init__(self, key, message=None, **fmt):
        super().__init__(key)
        self.key = key
        self.message = message
        self.fmt = fmt


# ---------------------------------------------------------------------------------------
# HTTP


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ses-stub"
    timeout = None  # blocking sockets: cheapest per request; idle threads are daemons
    state: State = None

    # -- connection plumbing --------------------------------------------------------
    def setup(self):
        super().setup()
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        with self.state.lock:
            self.state.connections += 1

    def handle_one_request(self):
        try:
            self._handle_one()
        except (ConnectionError, socket.timeout, TimeoutError, OSError):
            self.close_connection = True

    def _handle_one(self):
        line = self.rfile.readline(65537)
        if not line:
            self.close_connection = True
            return
        if len(line) > 65536:
            return self._plain(414, b"request line too long", close=True)
        parts = line.decode("latin-1").split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            return self._plain(400, b"bad request line", close=True)
        method, target, version = parts
        self.command, self.path, self.request_version = method, target, version
        headers = {}
        n = 0
        while True:
            h = self.rfile.readline(65537)
            if h in (b"\r\n", b"\n", b""):
                break
            n += 1
            if n > 200 or len(h) > 65536:
                return self._plain(431, b"too many or too long headers", close=True)
            name, sep, value = h.decode("latin-1").partition(":")
            if not sep:
                return self._plain(400, b"bad header line", close=True)
            headers.setdefault(name.strip().lower(), []).append(value.strip())
        conn = headers.get("connection", [""])[0].lower()
        if version == "HTTP/1.1":
            self.close_connection = "close" in conn
        else:
            self.close_connection = "keep-alive" not in conn
        if headers.get("expect", [""])[0].lower() == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        te = headers.get("transfer-encoding", [""])[0].lower()
        if "chunked" in te:
            body = self._read_chunked()
            if body is None:
                return self._plain(400, b"bad chunked body", close=True)
        else:
            try:
                length = int(headers.get("content-length", ["0"])[0] or 0)
            except ValueError:
                return self._plain(400, b"bad content-length", close=True)
            if length > MAX_BODY or length < 0:
                return self._plain(413, b"body too large", close=True)
            body = self.rfile.read(length) if length else b""
            if len(body) != length:
                self.close_connection = True
                return
        path, _, query = target.partition("?")
        if path.startswith("/_stub/"):
            return self.control(method, path, query, body)
        return self.ses(method, path, query, headers, body)

    def _read_chunked(self):
        out = []
        total = 0
        while True:
            size_line = self.rfile.readline(1024)
            try:
                size = int(size_line.split(b";")[0].strip(), 16)
            except ValueError:
                return None
            if size == 0:
                while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(out)
            total += size
            if total > MAX_BODY:
                return None
            out.append(self.rfile.read(size))
            self.rfile.readline(3)

    _date_cache = (0, "")

    def _date(self):
        now = int(time.time())
        c = Handler._date_cache
        if c[0] != now:
            c = (now, email.utils.formatdate(now, usegmt=True))
            Handler._date_cache = c
        return c[1]

    def _write(self, status, ctype, body, rid=None, extra="", close=False):
        if close:
            self.close_connection = True
        head = (f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}\r\n"
                f"x-amzn-RequestId: {rid or new_uuid()}\r\n"
                f"Date: {self._date()}\r\n"
                f"Content-Type: {ctype}\r\n"
                f"Content-Length: {len(body)}\r\n"
                f"{extra}"
                f"{'Connection: close' + chr(13) + chr(10) if self.close_connection else ''}"
                "\r\n")
        self.wfile.write(head.encode("latin-1") + body)

    def _plain(self, status, body, close=False):
        self._write(status, "text/plain", body, close=close)

    def _json(self, status, obj):
        self._write(status, "application/json",
                    json.dumps(obj, default=str).encode("utf-8"))

    def log_message(self, fmt, *args):
        if self.state.settings["verbose"]:
            sys.stderr.write(f"ses-stub: {fmt % args}\n")

    # -- control API -----------------------------------------------------------------
    def control(self, method, path, query, body):
        st = self.state
        with st.lock:
            st.control_requests += 1
        q = urllib.parse.parse_qs(query)
        try:
            since = int(q.get("since", ["0"])[0])
            limit = int(q["limit"][0]) if "limit" in q else None
        except ValueError:
            return self._json(400, {"error": "since and limit must be integers"})
        since = max(since, 0)
        if path == "/_stub/config" and method == "GET":
            with st.lock:
                return self._json(200, public_settings(st.settings))
        if path == "/_stub/config" and method == "POST":
            try:
                changes = json.loads(body or b"{}")
                with st.lock:
                    staged = apply_settings(dict(st.settings), changes)
                    st.settings = staged
                    out = public_settings(st.settings)
            except ValueError as e:
                return self._json(400, {"error": str(e)})
            return self._json(200, out)
        if path in ("/_stub/sent", "/_stub/rejected") and method == "GET":
            with st.lock:
                recs = st.sent if path == "/_stub/sent" else st.rejected
                total = len(recs)
                chunk = recs[since: since + limit if limit is not None else None]
            key = "messages" if path == "/_stub/sent" else "rejected"
            return self._json(200, {"total": total, "since": since,
                                    "next": since + len(chunk), key: chunk})
        if path == "/_stub/stats" and method == "GET":
            return self._json(200, st.stats())
        if path == "/_stub/reset" and method == "POST":
            try:
                opts = json.loads(body or b"{}")
            except ValueError:
                return self._json(400, {"error": "body must be JSON"})
            st.reset(settings=bool(opts.get("settings", True)) if isinstance(opts, dict)
                     else True)
            return self._json(200, {"ok": True})
        if path == "/_stub/health" and method == "GET":
            return self._json(200, {"ok": True})
        if path == "/_stub/shutdown" and method == "POST":
            self._json(200, {"ok": True})
            threading.Thread(target=self.server.shutdown, daemon=True).start()
            return None
        return self._json(404, {"error": f"no control endpoint {method} {path}"})

    # -- SES -------------------------------------------------------------------------
    def ses(self, method, path, query, headers, body):
        st = self.state
        rid = new_uuid()
        self._body = body
        if path in ("/", "") and method == "POST":
            api = "v1"
            try:
                params = dict(urllib.parse.parse_qsl(body.decode("utf-8"),
                                                     keep_blank_values=True))
            except UnicodeDecodeError:
                params = {}
            op = params.get("Action", "")
        elif path.startswith("/v2/"):
            api = "v2"
            params = None
            if path == "/v2/email/outbound-emails":
                op = "SendEmail" if method == "POST" else ""
            elif path == "/v2/email/account":
                op = "GetAccount" if method == "GET" else ""
            else:
                op = ""
        else:
            api = "v2" if path.startswith("/v2") else "v1"
            op = ""
            params = {} if api == "v1" else None
        is_send = op in ("SendEmail", "SendRawEmail")
        ctx = {"api": api, "op": op, "rid": rid}

        with st.lock:
            st.requests += 1
            fault, delay = st.take_fault("net", is_send)
        if fault == "drop":
            self._reject(ctx, "ConnectionDropped", 0, "closed without an answer", params)
            self.close_connection = True
            return None
        if delay:
            time.sleep(delay)

        try:
            check_sigv4(st.settings, method, path, query, headers, body)
        except AuthError as e:
            return self._error(ctx, e.key, e.message, params)

        with st.lock:
            fault, _ = st.take_fault("answer", is_send)
        if fault == "reset":
            return self._reset(ctx, params)
        if fault == "malformed":
            self._reject(ctx, "Malformed", 200, "answered with an unparsable body", params)
            if api == "v2":
                return self._write(200, "application/json", b'{"MessageId": "0100018', rid)
            return self._write(200, "text/xml",
                               f'<{op or "Send"}Response xmlns="{XMLNS}"><{op}Result>'
                               '<MessageId>'.encode(), rid)
        if fault is not None:
            item = fault[1]
            if isinstance(item, dict):
                return self._error(ctx, item["code"], item.get("message"), params,
                                   status=item.get("status"))
            return self._error(ctx, item, None, params)

        try:
            if api == "v1":
                if op == "GetSendQuota":
                    return self._v1_quota(rid)
                if op in ("SendEmail", "SendRawEmail"):
                    msg = self._v1_message(op, params)
                    return self._send(ctx, msg)
                raise SendError("InvalidAction", action=op or "(none)")
            if op == "GetAccount":
                return self._v2_account(rid)
            if op == "SendEmail":
                try:
                    doc = json.loads(body or b"{}")
                    if not isinstance(doc, dict):
                        raise ValueError
                except ValueError:
                    raise SendError("SerializationException") from None
                ctx["doc"] = doc
                msg = self._v2_message(doc)
                return self._send(ctx, msg)
            raise SendError("InvalidAction", f"Unknown operation {method} {path}.")
        except SendError as e:
            return self._error(ctx, e.key, e.message, params if api == "v1" else
                               ctx.get("doc"), fmt=e.fmt)

    # -- answers -----------------------------------------------------------------------
    def _resolve(self, api, code, message, status, fmt):
        key = ALIASES.get(code, code)
        entry = ERRORS.get(key)
        if entry is None:
            st_ = int(status or 400)
            msg = message if message is not None else f"Injected error {code}."
            return key, st_, code, msg
        v1s, v1c, v2s, v2c, msg1 = entry[:5]
        msg2 = entry[5] if len(entry) > 5 else msg1
        s_, c_, m_ = (v1s, v1c, msg1) if api == "v1" else (v2s, v2c, msg2)
        if status is not None:
            s_ = int(status)
        if message is None:
            f = {"region": self.state.settings["region"].upper(), "source": "",
                 "config_set": "", "size": 0, "action": ""}
            f.update(fmt or {})
            m_ = m_.format(**f)
        else:
            m_ = message
        return key, s_, c_, m_

    def _error(self, ctx, code, message, req, status=None, fmt=None):
        api, rid = ctx["api"], ctx["rid"]
        if fmt is None:
            fmt = {}
        if ALIASES.get(code, code) == "MessageRejected" and "source" not in fmt:
            fmt["source"] = self._source_of(api, req)
        key, status, wire_code, msg = self._resolve(api, code, message, status, fmt)
        self._reject(ctx, wire_code, status, msg, req)
        if api == "v1":
            kind = "Receiver" if status >= 500 else "Sender"
            body = (f'<ErrorResponse xmlns="{XMLNS}">\n  <Error>\n    <Type>{kind}</Type>\n'
                    f"    <Code>{xml_escape(wire_code)}</Code>\n"
                    f"    <Message>{xml_escape(msg)}</Message>\n  </Error>\n"
                    f"  <RequestId>{rid}</RequestId>\n</ErrorResponse>\n").encode("utf-8")
            return self._write(status, "text/xml", body, rid)
        ns = AUTH_ERR_NS if key in AUTH_KEYS else V2_ERR_NS
        body = json.dumps({"message": msg}).encode("utf-8")
        return self._write(status, "application/json", body, rid,
                           extra=f"x-amzn-ErrorType: {wire_code}:{ns}\r\n")

    def _source_of(self, api, req):
        try:
            if api == "v1":
                return _addr(req.get("Source", "")) if req else ""
            if req is None:  # v2 request not parsed yet (injected fault): parse it now
                req = json.loads(self._body or b"{}")
            return _addr(req.get("FromEmailAddress", "")) if isinstance(req, dict) else ""
        except Exception:
            return ""

    def _reject(self, ctx, code, status, message, req):
        now_t, now_m = time.time(), time.monotonic()
        rec = {"time": now_t, "monotonic": now_m, "api": ctx["api"], "action": ctx["op"],
               "request_id": ctx["rid"], "code": code, "status": status, "message": message}
        msg = ctx.get("msg")
        if msg is not None:
            rec.update(source=msg["source"], to=msg["to"], cc=msg["cc"], bcc=msg["bcc"],
                       recipient_count=msg["recipient_count"])
        elif req:
            rec["source"] = self._source_of(ctx["api"], req) or None
        self.state.record_rejection(rec)
        if self.state.settings["verbose"]:
            sys.stderr.write(f"ses-stub: {ctx['api']} {ctx['op']} -> {status} {code}\n")

    def _reset(self, ctx, req):
        self._reject(ctx, "ConnectionReset", 0, "partial answer then TCP reset", req)
        partial = (f"HTTP/1.1 200 OK\r\nx-amzn-RequestId: {ctx['rid']}\r\n"
                   "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
                   '{"MessageId": "01').encode()
        sock = self.connection
        try:
            self.wfile.write(partial)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            os.close(sock.detach())
        except OSError:
            pass
        self.close_connection = True

    def _v1_quota(self, rid):
        with self.state.lock:
            max24, rate, sent = self.state.quota_numbers()
        body = (f'<GetSendQuotaResponse xmlns="{XMLNS}">\n  <GetSendQuotaResult>\n'
                f"    <SentLast24Hours>{sent!r}</SentLast24Hours>\n"
                f"    <Max24HourSend>{max24!r}</Max24HourSend>\n"
                f"    <MaxSendRate>{rate!r}</MaxSendRate>\n  </GetSendQuotaResult>\n"
                f"  <ResponseMetadata>\n    <RequestId>{rid}</RequestId>\n"
                "  </ResponseMetadata>\n</GetSendQuotaResponse>\n").encode()
        return self._write(200, "text/xml", body, rid)

    def _v2_account(self, rid):
        st = self.state
        with st.lock:
            max24, rate, sent = st.quota_numbers()
            paused = st.settings["paused"]
            sandbox = st.settings["sandbox"]
        doc = {
            "DedicatedIpAutoWarmupEnabled": False,
            "EnforcementStatus": "SHUTDOWN" if paused == "suspended" else "HEALTHY",
            "ProductionAccessEnabled": not sandbox,
            "SendQuota": {"Max24HourSend": max24, "MaxSendRate": rate,
                          "SentLast24Hours": sent},
            "SendingEnabled": not paused,
        }
        return self._write(200, "application/json", json.dumps(doc).encode(), rid)

    # -- message extraction --------------------------------------------------------------
    @staticmethod
    def _finish_raw(msg, raw_b, explicit_dest, from_param):
        if len(raw_b) > MAX_SIZE[msg["api"]]:
            raise SendError("MessageTooLong", size=len(raw_b))
        h = parse_mime(raw_b)
        msg["raw"] = raw_b.decode("utf-8", "replace")
        msg["subject"] = h["subject"]
        msg["to"], msg["cc"], msg["bcc"] = h["to"], h["cc"], h["bcc"]
        msg["reply_to"] = msg["reply_to"] or h["reply_to"]
        msg["header_from"] = h["from"][0] if h["from"] else None
        msg["source"] = _addr(from_param) or msg["header_from"] or ""
        if not from_param and not h["from"]:
            raise SendError("InvalidParameterValue", "Missing required header 'From'.")
        if explicit_dest:
            msg["destinations"] = list(explicit_dest)
        else:
            msg["destinations"] = h["to"] + h["cc"] + h["bcc"]
            if not h["to"] and not h["cc"] and not h["bcc"]:
                raise SendError("InvalidParameterValue", "Missing required header 'To'.")
        msg["recipient_count"] = len(msg["destinations"])

    def _v1_message(self, op, p):
        msg = {"api": "v1", "action": op, "reply_to": members(p, "ReplyToAddresses"),
               "configuration_set": p.get("ConfigurationSetName"),
               "tags": [{"Name": n, "Value": p.get(f"Tags.member.{i}.Value", "")}
                        for i, n in enumerate(self._tag_names(p), start=1)],
               "return_path": p.get("ReturnPath"), "raw": None, "subject": None,
               "text": None, "html": None, "charset": None}
        if op == "SendEmail":
            msg["source"] = _addr(p.get("Source", ""))
            msg["to"] = members(p, "Destination.ToAddresses")
            msg["cc"] = members(p, "Destination.CcAddresses")
            msg["bcc"] = members(p, "Destination.BccAddresses")
            msg["destinations"] = msg["to"] + msg["cc"] + msg["bcc"]
            msg["recipient_count"] = len(msg["destinations"])
            msg["subject"] = p.get("Message.Subject.Data")
            msg["charset"] = p.get("Message.Subject.Charset")
            msg["text"] = p.get("Message.Body.Text.Data")
            msg["html"] = p.get("Message.Body.Html.Data")
            if not msg["source"]:
                raise SendError("InvalidParameterValue", "Missing required header 'From'.")
            if not msg["destinations"]:
                raise SendError("InvalidParameterValue", "Missing required header 'To'.")
        else:
            data = p.get("RawMessage.Data", "")
            try:
                raw_b = base64.b64decode(data, validate=True)
            except (binascii.Error, ValueError):
                raise SendError("InvalidParameterValue",
                                "Invalid base64 in RawMessage.Data.") from None
            self._finish_raw(msg, raw_b, members(p, "Destinations"), p.get("Source"))
        return msg

    @staticmethod
    def _tag_names(p):
        out = []
        i = 1
        while f"Tags.member.{i}.Name" in p:
            out.append(p[f"Tags.member.{i}.Name"])
            i += 1
        return out

    def _v2_message(self, doc):
        def strs(v):
            return [x for x in v if isinstance(x, str)] if isinstance(v, list) else []

        dest = doc.get("Destination") or {}
        if not isinstance(dest, dict):
            dest = {}
        content = doc.get("Content")
        tags = doc.get("EmailTags") or []
        msg = {"api": "v2", "action": "SendEmail",
               "reply_to": strs(doc.get("ReplyToAddresses")),
               "configuration_set": doc.get("ConfigurationSetName"),
               "tags": [t for t in tags if isinstance(t, dict)] if isinstance(tags, list)
               else [],
               "return_path": doc.get("FeedbackForwardingEmailAddress"), "raw": None,
               "subject": None, "text": None, "html": None, "charset": None}
        to, cc, bcc = (strs(dest.get("ToAddresses")), strs(dest.get("CcAddresses")),
                       strs(dest.get("BccAddresses")))
        if not isinstance(content, dict) or not content:
            raise SendError("InvalidParameterValue", "Content is required.")
        kinds = [k for k in ("Simple", "Raw", "Template") if content.get(k) is not None]
        if len(kinds) != 1:
            raise SendError("InvalidParameterValue",
                            "Exactly one of Simple, Raw or Template content is required.")
        kind = kinds[0]
        msg["content_type"] = kind
        if kind == "Raw":
            raw = content["Raw"]
            data = raw.get("Data", "") if isinstance(raw, dict) else ""
            try:
                raw_b = base64.b64decode(data, validate=True)
            except (binascii.Error, ValueError, TypeError):
                raise SendError("InvalidParameterValue",
                                "Invalid base64 in Content.Raw.Data.") from None
            self._finish_raw(msg, raw_b, to + cc + bcc, doc.get("FromEmailAddress"))
            if to or cc or bcc:
                msg["to"], msg["cc"], msg["bcc"] = to, cc, bcc
            return msg
        msg["source"] = _addr(doc.get("FromEmailAddress") or "")
        msg["to"], msg["cc"], msg["bcc"] = to, cc, bcc
        msg["destinations"] = to + cc + bcc
        msg["recipient_count"] = len(msg["destinations"])
        if kind == "Simple":
            simple = content["Simple"] if isinstance(content["Simple"], dict) else {}
            subj = simple.get("Subject") or {}
            body = simple.get("Body") or {}
            msg["subject"] = subj.get("Data")
            msg["charset"] = subj.get("Charset")
            msg["text"] = (body.get("Text") or {}).get("Data")
            msg["html"] = (body.get("Html") or {}).get("Data")
            if simple.get("Headers"):
                msg["headers"] = simple["Headers"]
        else:
            msg["template"] = content["Template"]
        if not msg["source"]:
            raise SendError("InvalidParameterValue", "Missing required header 'From'.")
        if not msg["destinations"]:
            raise SendError("InvalidParameterValue", "Missing required header 'To'.")
        return msg

    # -- acceptance ----------------------------------------------------------------------
    @staticmethod
    def _is_verified(addr, verified):
        a = addr.lower()
        dom = a.rpartition("@")[2]
        for v in verified:
            v = v.lower()
            # An address matches itself; a domain covers its addresses and subdomains.
            if v == a or ("@" not in v and (dom == v or dom.endswith("." + v))):
                return True
        return False

    def _send(self, ctx, msg):
        st = self.state
        ctx["msg"] = msg
        n = msg["recipient_count"]
        if n > MAX_RECIPIENTS:
            raise SendError("InvalidParameterValue",
                            f"Recipient count exceeds {MAX_RECIPIENTS}.")
        cs = msg["configuration_set"]
        s = st.settings
        if cs is not None and s["configuration_sets"] is not None \
                and cs not in s["configuration_sets"]:
            raise SendError("ConfigurationSetDoesNotExist", config_set=cs)
        with st.lock:
            s = st.settings
            if s["paused"]:
                raise SendError("AccountSuspendedException" if s["paused"] == "suspended"
                                else "AccountSendingPausedException")
            if s["verified"] is not None:
                failed = []
                if not self._is_verified(msg["source"], s["verified"]):
                    failed.append(msg["source"])
                if s["sandbox"]:
                    failed += [d for d in msg["destinations"]
                               if not self._is_verified(_addr(d), s["verified"])]
                if failed:
                    raise SendError("MessageRejected", source=", ".join(failed))
            now = time.monotonic()
            st._purge(now)
            if s["daily_quota"] is not None and st.day_sum + n > s["daily_quota"]:
                raise SendError("DailyQuotaExceeded")
            if s["rate"] is not None and st.rate_sum + n > s["rate"]:
                raise SendError("Throttling")
            st.rate_win.append((now, n))
            st.rate_sum += n
            st.day_win.append((now, n))
            st.day_sum += n
            st.accepted_recipients += n
            mid = new_message_id()
            rec = {"index": len(st.sent), "time": time.time(), "monotonic": now,
                   "message_id": mid, "request_id": ctx["rid"]}
            rec.update(msg)
            if not s["record_bodies"]:
                for k in ("raw", "text", "html", "subject", "template", "headers"):
                    rec.pop(k, None)
            st.sent.append(rec)
        rid = ctx["rid"]
        if self.state.settings["verbose"]:
            sys.stderr.write(f"ses-stub: {ctx['api']} {ctx['op']} accepted {mid} n={n}\n")
        if msg["api"] == "v2":
            return self._write(200, "application/json",
                               b'{"MessageId":"' + mid.encode() + b'"}', rid)
        op = msg["action"]
        body = (f'<{op}Response xmlns="{XMLNS}">\n  <{op}Result>\n'
                f"    <MessageId>{mid}</MessageId>\n  </{op}Result>\n"
                f"  <ResponseMetadata>\n    <RequestId>{rid}</RequestId>\n"
                f"  </ResponseMetadata>\n</{op}Response>\n").encode()
        return self._write(200, "text/xml", body, rid)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 256
    allow_reuse_address = True


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Local Amazon SES stand-in (v1 Query + v2 REST-JSON) on 127.0.0.1.")
    ap.add_argument("--port", type=int, default=0, help="TCP port (0: pick a free one)")
    ap.add_argument("--port-file", help="also write the port to this file")
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"),
                    help="serve https with this certificate chain and key (PEM files)")
    ap.add_argument("--secret", action="append", default=[], metavar="KEYID:SECRET",
                    help="credentials to verify SigV4 with (repeatable); turns on auth=verify")
    ap.add_argument("--auth", choices=["off", "format", "verify"],
                    help="signature checking (default: verify with --secret, else format)")
    ap.add_argument("--region", help="region the stub serves (default us-east-1)")
    ap.add_argument("--verified", help="verified addresses/domains, comma-separated "
                    "(default: any sender)")
    ap.add_argument("--sandbox", action="store_true",
                    help="recipients must be verified too; ProductionAccessEnabled false")
    ap.add_argument("--configuration-sets", help="known configuration sets, comma-separated "
                    "(default: any)")
    ap.add_argument("--rate", type=float, help="recipients per second enforced")
    ap.add_argument("--daily-quota", type=int, help="recipients per rolling 24 h enforced")
    ap.add_argument("--max-send-rate", type=float, help="MaxSendRate to report")
    ap.add_argument("--max-24-hour-send", type=float, help="Max24HourSend to report")
    ap.add_argument("--paused", nargs="?", const="true", choices=["true", "suspended"],
                    help="account sending paused (or suspended)")
    ap.add_argument("--fail-5xx", type=float, help="fraction of requests answered 5xx")
    ap.add_argument("--delay-ms", type=float, help="delay before every answer")
    ap.add_argument("--max-skew", type=float, help="x-amz-date tolerance in seconds when "
                    "verifying (default 900; 0: no check)")
    ap.add_argument("--no-record-bodies", action="store_true",
                    help="do not keep subjects, bodies or raw MIME in records")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=JSON",
                    help="set any control-API setting at start (repeatable)")
    ap.add_argument("--verbose", action="store_true", help="log every request to stderr")
    a = ap.parse_args(argv)

    startup = {}
    if a.secret:
        creds = {}
        for s in a.secret:
            k, sep, v = s.partition(":")
            if not sep or not k or not v:
                ap.error("--secret takes KEYID:SECRET")
            creds[k] = v
        startup["credentials"] = creds
        startup["auth"] = "verify"
    for name, val in (("auth", a.auth), ("region", a.region), ("verified", a.verified),
                      ("configuration_sets", a.configuration_sets), ("rate", a.rate),
                      ("daily_quota", a.daily_quota), ("max_send_rate", a.max_send_rate),
                      ("max_24_hour_send", a.max_24_hour_send), ("fail_5xx", a.fail_5xx),
                      ("delay_ms", a.delay_ms), ("max_skew_s", a.max_skew)):
        if val is not None:
            startup[name] = val
    if a.paused:
        startup["paused"] = a.paused
    if a.sandbox:
        startup["sandbox"] = True
    if a.no_record_bodies:
        startup["record_bodies"] = False
    if a.verbose:
        startup["verbose"] = True
    for kv in a.set:
        k, sep, v = kv.partition("=")
        if not sep:
            ap.error("--set takes KEY=JSON")
        try:
            startup[k] = json.loads(v)
        except ValueError:
            startup[k] = v
    try:
        state = State(startup)
    except ValueError as e:
        ap.error(str(e))
    if state.settings["auth"] == "verify" and not state.settings["credentials"]:
        ap.error("auth=verify needs --secret KEYID:SECRET")

    Handler.state = state
    server = Server(("127.0.0.1", a.port), Handler)
    if a.tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*a.tls)
        server.socket = context.wrap_socket(server.socket, server_side=True,
                                             do_handshake_on_connect=False)
    port = server.server_address[1]
    if a.port_file:
        tmp = f"{a.port_file}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            f.write(f"{port}\n")
        os.replace(tmp, a.port_file)

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    sys.stdout.write(f"LISTENING {port}\n")
    sys.stdout.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
