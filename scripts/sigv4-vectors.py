#!/usr/bin/env python3
"""Print N SigV4 test vectors, signed by botocore, as a JSON array.

usage: sigv4-vectors.py N SEED

Each vector is a varied request (method, host with or without port, path,
query string, headers, body that is JSON, form, UTF-8 or empty), credentials
with or without a session token, a region, a service and a fixed time, plus
the Authorization header that botocore.auth.SigV4Auth computes for it.
HworkerSESTests signs the same requests and expects identical headers.
"""

import base64
import datetime
import json
import random
import sys
import unittest.mock
from urllib.parse import quote

import botocore.auth
import botocore.awsrequest
import botocore.credentials

HOSTS = [
    ("https", "email.us-east-1.amazonaws.com", None),
    ("https", "email.eu-west-1.amazonaws.com", 443),
    ("http", "127.0.0.1", 5000),
    ("http", "localhost", 80),
    ("https", "ses.example.internal", 8443),
    ("http", "[::1]", 4566),
]
REGIONS = ["us-east-1", "eu-west-1", "eu-central-1", "ap-southeast-2", "us-gov-west-1"]
PATHS = [
    "/", "", "/v2/email/outbound-emails", "/v2/email/account", "/a/b/../c", "/a/./b",
    "//double//slash/", "/trailing/", "/with%20space", "/~user/x-y_z.txt", "/a:b=c+d",
    "/%E2%82%AC/caf%C3%A9",
]
WORDS = ["alpha", "Beta", "x y", "a+b", "€uro", "café", "日本", "a=b", "a&b", "~tilde", "-_."]
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def query(rng):
    pairs = []
    for _ in range(rng.randint(0, 4)):
        key = quote(rng.choice(WORDS), safe="-_.~")
        value = "" if rng.random() < 0.2 else quote(rng.choice(WORDS), safe="-_.~")
        pairs.append(f"{key}={value}")
    if pairs and rng.random() < 0.3:
        pairs.append(pairs[0].split("=")[0] + "=" + quote(rng.choice(WORDS), safe="-_.~"))
    return "&".join(pairs)


def body(rng):
    kind = rng.choice(["empty", "json", "form", "utf8", "binary"])
    if kind == "empty":
        return b"", None
    if kind == "json":
        payload = {"FromEmailAddress": "a@example.com", "N": rng.randint(0, 10**6),
                   "Subject": rng.choice(WORDS)}
        return json.dumps(payload, ensure_ascii=rng.random() < 0.5).encode(), "application/json"
    if kind == "form":
        text = f"Action=GetSendQuota&Version=2010-12-01&X={quote(rng.choice(WORDS))}"
        return text.encode(), "application/x-www-form-urlencoded; charset=utf-8"
    if kind == "utf8":
        return " ".join(rng.choice(WORDS) for _ in range(8)).encode(), "text/plain; charset=utf-8"
    return bytes(rng.randrange(256) for _ in range(rng.randint(1, 300))), "application/octet-stream"


def vector(rng):
    scheme, host, port = rng.choice(HOSTS)
    netloc = host if port is None else f"{host}:{port}"
    path = rng.choice(PATHS)
    q = query(rng)
    url = f"{scheme}://{netloc}{path}" + (f"?{q}" if q else "")
    data, content_type = body(rng)
    method = rng.choice(["GET", "POST", "POST", "PUT", "DELETE"])
    headers = {}
    if content_type:
        headers["Content-Type"] = content_type
    if rng.random() < 0.3:
        headers["X-Amz-Target"] = "  SimpleEmailService.  " + rng.choice(WORDS[:3]) + "   v2 "

    key_id = "AKIA" + "".join(rng.choice(ALPHABET[:36]) for _ in range(16))
    secret = "".join(rng.choice(ALPHABET) for _ in range(40))
    token = None
    if rng.random() < 0.5:
        token = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(100, 400)))
    region = rng.choice(REGIONS)
    service = rng.choice(["ses", "ses", "email", "service"])
    offset = datetime.timedelta(seconds=rng.randrange(25 * 365 * 86400))
    when = datetime.datetime(2010, 1, 1) + offset

    request = botocore.awsrequest.AWSRequest(method=method, url=url, data=data, headers=headers)
    credentials = botocore.credentials.Credentials(key_id, secret, token)
    with unittest.mock.patch.object(botocore.auth, "get_current_datetime", return_value=when):
        botocore.auth.SigV4Auth(credentials, service, region).add_auth(request)

    return {
        "method": method,
        "host": botocore.auth._host_from_url(url),
        "path": path,
        "query": q,
        "headers": [[name, value] for name, value in headers.items()],
        "body": base64.b64encode(data).decode(),
        "access_key_id": key_id,
        "secret_access_key": secret,
        "session_token": token,
        "region": region,
        "service": service,
        "epoch": int(when.replace(tzinfo=datetime.timezone.utc).timestamp()),
        "amz_date": request.headers["X-Amz-Date"],
        "authorization": request.headers["Authorization"],
    }


def main():
    count, seed = int(sys.argv[1]), int(sys.argv[2])
    rng = random.Random(seed)
    json.dump([vector(rng) for _ in range(count)], sys.stdout, ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main()
