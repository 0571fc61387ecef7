"""Webhooks: events written with the change that caused them (outbox.py), signed (signing.py), sent only to
public addresses (addresses.py) by a worker process that may run many times over (delivery.py)."""
from . import outbox  # noqa: F401 - registers the session listeners that write the events
