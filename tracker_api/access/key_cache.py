"""API key lookups kept in each worker's memory, so that a request with a known key costs no database query, while a
revocation (or any other change to a key or its bot) still takes effect on the very next request in every worker.

How the cache stays true: Redis holds one shared *key token*. Every request reads it in the round trip that already
checks its address's block (security_events.refuse_blocked_address), before its key is looked up; or, for a key this
worker has cached, in the rate limiter's hit, which counts nothing if the token is not the one the lookup was cached
under: the key is then looked up again before anything else uses it (rate_limits.py). Every committed change to an
API key, or to a bot's `is_active`, replaces the token after the commit (the session listener below). A cached
lookup records the token it was made under and is used only while the token is unchanged, so once a revocation has
committed and replaced the token, no worker serves the old verdict again. Expiry is judged afresh on every request.

Without a token nothing is served from the cache: Redis is not configured (`make run`'s memory store cannot see what
another process, such as `flask keys revoke`, changed), or it did not answer (the worker then empties its cache:
while Redis is away the token cannot be replaced, so nothing read before the outage can be trusted after it). A
flushed or restarted Redis loses the token; the next request writes a fresh one, which no cached lookup matches. Two
cases the token cannot see are bounded by KEY_CACHE_SECONDS, the most any lookup is kept: a change written by hand in
SQL, and a revocation committed while Redis was down, seen by a worker that served no request during the outage
(`flask keys revoke` warns when it could not replace the token).
"""
import threading
import time
from dataclasses import replace

from flask import current_app, has_app_context
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from ..models import ApiKey, Bot
from .shared_store import shared_store

TOKEN_KEY = "keys:token"  # nosec B105: the name of a Redis key, not a password
MAX_ENTRIES = 10_000  # lookups kept per worker; past this the cache starts afresh (invented keys are never kept)
PENDING = "key_token_stale"  # session.info flag: this transaction changed a key or a bot's is_active


class KeyLookupCache:
    """key hash -> (the token it was looked up under, when, the KeyRecord), in one worker's memory."""

    def __init__(self, max_age_seconds):
        self.max_age = max_age_seconds
        self._entries = {}
        self._lock = threading.Lock()

    def get(self, key_hash, token):
        entry = self._entries.get(key_hash)
        if entry is None or entry[0] != token or time.monotonic() - entry[1] > self.max_age:
            return None
        return entry[2]

    def token_of(self, key_hash):
        """The token a lookup of this key was cached under, while it may be kept; None when there is none."""
        entry = self._entries.get(key_hash)
        if entry is None or time.monotonic() - entry[1] > self.max_age:
            return None
        return entry[0]

    def put(self, key_hash, token, record):
        with self._lock:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries = {}
            self._entries[key_hash] = (token, time.monotonic(), record)

    def note_used(self, key_hash, moment):
        """This worker wrote the key's last_used_at: its cached lookup says so, or every request would write it."""
        with self._lock:
            entry = self._entries.get(key_hash)
            if entry is not None:
                self._entries[key_hash] = (*entry[:2], replace(entry[2], last_used_at=moment))

    def clear(self):
        if self._entries:
            with self._lock:
                self._entries = {}


def key_lookup_cache():
    return current_app.extensions["key_lookup_cache"]


def replace_token():
    """Make every worker's cached lookups stale; False if Redis did not answer (see the module's doc)."""
    return shared_store().replace_token(TOKEN_KEY)


def _changes_key_verdicts(instance, deleted):
    if isinstance(instance, ApiKey):
        return True
    return isinstance(instance, Bot) and (deleted or inspect(instance).attrs.is_active.history.has_changes())


@event.listens_for(Session, "after_flush")
def _note_key_changes(session, flush_context):
    if any(_changes_key_verdicts(instance, False) for instance in session.dirty) or any(
            _changes_key_verdicts(instance, True) for instance in session.deleted):
        session.info[PENDING] = True


@event.listens_for(Session, "after_commit")
def _replace_token_after_commit(session):
    if session.info.pop(PENDING, False) and has_app_context():
        if not replace_token():
            current_app.logger.warning(
                "A change to an API key or bot was committed but Redis did not answer: workers may keep using their "
                "cached lookup of it for up to %s s", current_app.config["KEY_CACHE_SECONDS"])


@event.listens_for(Session, "after_rollback")
def _forget_key_changes(session):
    session.info.pop(PENDING, None)


def register_key_cache(app):
    app.extensions["key_lookup_cache"] = KeyLookupCache(app.config["KEY_CACHE_SECONDS"])
