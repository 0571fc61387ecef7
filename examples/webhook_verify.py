"""Verify a webhook's X-Tracker-Signature (Python 3, standard library only), runnable:

    WEBHOOK_SECRET=whsec_... WEBHOOK_SIGNATURE='t=...,v1=...' python examples/webhook_verify.py < body.json

Reads the raw request body on stdin; prints "valid <event type> <event id>" and exits 0, or says why not and
exits 1. In a web app, call verify_signature() with the raw body bytes before parsing them as JSON.
"""
import hashlib
import hmac
import json
import os
import sys
import time

TOLERANCE_SECONDS = 300  # refuse signatures older than this: a captured request cannot be replayed later


def verify_signature(secret, header, body, now=None):
    """True if any v1= of the header is the HMAC-SHA256 of "t.body" with the secret, and t is recent."""
    parts = [item.split('=', 1) for item in header.split(',') if '=' in item]
    timestamps = [value for key, value in parts if key == 't']
    signatures = [value for key, value in parts if key == 'v1']
    if len(timestamps) != 1 or not timestamps[0].isdigit() or not signatures:
        return False
    if abs((now or time.time()) - int(timestamps[0])) > TOLERANCE_SECONDS:
        return False
    signed = timestamps[0].encode() + b'.' + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, signature) for signature in signatures)


def main():
    body = sys.stdin.buffer.read()
    if not verify_signature(os.environ['WEBHOOK_SECRET'], os.environ['WEBHOOK_SIGNATURE'], body):
        print('invalid signature: refuse the request (answer 400)', file=sys.stderr)
        return 1
    event = json.loads(body)
    # De-duplicate by event["id"]: a delivery may arrive twice. Order a parcel's events by event["sequence"].
    print(f"valid {event['type']} {event['id']}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
