#!/usr/bin/env python3
"""Prepare a moto server for HworkerSESTests and print a signing key as JSON.

usage: moto-setup.py URL SENDER

Waits until the server at URL answers, then makes the four set-up calls that
moto started with INITIAL_NO_AUTH_ACTION_COUNT=4 does not check: IAM
CreateUser, CreateAccessKey, PutUserPolicy allowing ses:*, and SES
VerifyEmailIdentity for SENDER. Every later request must be signed with the
new key, which is printed as {"access_key_id": ..., "secret_access_key": ...}.
"""

import json
import os
import sys
import time
import urllib.request
import uuid

os.environ["NO_PROXY"] = "127.0.0.1,localhost"

import boto3  # noqa: E402  (after NO_PROXY, which botocore reads)


def wait_until_up(url, seconds=90):
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + seconds
    while True:
        try:
            opener.open(url + "/moto-api/", timeout=2).read()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def main():
    url, sender = sys.argv[1], sys.argv[2]
    wait_until_up(url)
    setup = dict(endpoint_url=url, region_name="us-east-1",
                 aws_access_key_id="AKIASETUPSETUPSETUP0", aws_secret_access_key="setup")
    iam = boto3.client("iam", **setup)
    user = "hworker-test-" + uuid.uuid4().hex[:12]
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    policy = {"Version": "2012-10-17",
              "Statement": [{"Effect": "Allow", "Action": "ses:*", "Resource": "*"}]}
    iam.put_user_policy(UserName=user, PolicyName="ses", PolicyDocument=json.dumps(policy))
    boto3.client("ses", **setup).verify_email_identity(EmailAddress=sender)
    json.dump({"access_key_id": key["AccessKeyId"],
               "secret_access_key": key["SecretAccessKey"]}, sys.stdout)


if __name__ == "__main__":
    main()
