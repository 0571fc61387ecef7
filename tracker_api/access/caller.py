"""The caller: who this request comes from and what the access checks found, one object per request.

Every access check writes here and every reader (the view's key, the rate-limit headers, usage, security events,
the request log, the metrics) reads here, instead of each keeping loose attributes on `flask.g`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import g

if TYPE_CHECKING:  # types only: the modules that fill these import this one
    from .keys import KeyCheck, KeyRecord
    from .rate_limits import Window


@dataclass
class Caller:
    started: float | None = None  # perf_counter() at the first access hook: the log's and the metrics' duration
    cache_token: str | None = None  # the shared key token read with the address's block (key_cache.py)
    blocked_for: int | None = None  # seconds the address is still blocked, when it is (security_events.py)
    block_read: bool = False  # whether the block and the token were read (before the key lookup, or with the hit)
    # The token under which this worker cached the presented key's lookup: used until the rate limiter's hit has
    # read the shared one in the same round trip (security_events.py, rate_limits.py)
    tentative_token: str | None = None
    key_check: KeyCheck | None = None  # the presented key's lookup, made at most once (authentication.py)
    key: KeyRecord | None = None  # the key, once authentication has let the request through
    rate_window: Window | None = None  # the tightest budget this request spent (rate_limits.py)
    auth_refusal: str | None = None  # why authentication or the widget's origin check turned it away
    platform_token_id: int | None = None  # the admin API's caller (platform_tokens.py)
    platform_token_check: tuple | None = None  # (the usable PlatformToken or None,), once looked up

    def note_block_and_token(self, blocked_for, token):
        """The address's block and the shared key token, as just read (before the key lookup, or with the rate
        limiter's hit). A lookup made under another token, the one the key was cached with, is dropped: the key is
        looked up again under this one (authentication.presented_key)."""
        self.blocked_for, self.cache_token, self.block_read = blocked_for, token, True
        if self.tentative_token is not None and token != self.tentative_token:
            self.key_check = None

    @property
    def refusal(self):
        """Why the request was turned away before its view ran, or None: the log's and the metrics' verdict."""
        if self.blocked_for is not None:
            return "address-blocked"
        if self.rate_window is not None and self.rate_window.breached:
            return "rate-limited"
        return self.auth_refusal

    @property
    def elapsed_seconds(self):
        """Seconds since the first access hook ran (None if it never did)."""
        return time.perf_counter() - self.started if self.started is not None else None


def current_caller():
    """This request's Caller, made on first use."""
    caller = g.get("caller")
    if caller is None:
        caller = g.caller = Caller()
    return caller
