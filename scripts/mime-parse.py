#!/usr/bin/env python3
"""Read a MIME message on stdin and print, as JSON, what a mail client sees in it.

Used by HworkerMailTests to check the Swift renderer against an independent
parser (Python's `email` package with the modern `default` policy).
"""

import base64
import email
import email.policy
import json
import sys


def addresses(message, name):
    header = message[name]
    if header is None:
        return None
    return [{"name": a.display_name, "address": a.addr_spec} for a in header.addresses]


def body(message, subtype):
    part = message.get_body(preferencelist=(subtype,))
    if part is None or part.get_content_subtype() != subtype:
        return None
    return part.get_content()


def structure(part):
    if part.is_multipart():
        return {part.get_content_type(): [structure(p) for p in part.iter_parts()]}
    return part.get_content_type()


def defects(message):
    found = []
    for part in message.walk():
        found.extend(type(d).__name__ for d in part.defects)
        for value in part.values():
            found.extend(type(d).__name__ for d in getattr(value, "defects", ()))
    return found


def main():
    message = email.message_from_bytes(sys.stdin.buffer.read(), policy=email.policy.default)
    attachments = []
    for part in message.iter_attachments():
        attachments.append({
            "filename": part.get_filename(),
            "content_type": part.get_content_type(),
            "data": base64.b64encode(part.get_payload(decode=True) or b"").decode(),
        })
    subject = message["subject"]
    result = {
        "subject": None if subject is None else str(subject),
        "from": addresses(message, "from"),
        "to": addresses(message, "to"),
        "cc": addresses(message, "cc"),
        "bcc": addresses(message, "bcc"),
        "reply_to": addresses(message, "reply-to"),
        "headers": [[name, str(value)] for name, value in message.items()],
        "structure": structure(message),
        "text": body(message, "plain"),
        "html": body(message, "html"),
        "attachments": attachments,
        "defects": defects(message),
    }
    json.dump(result, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
