"""API key format, hashing and lifecycle: issue, look up, revoke, set a key's rate limit.

A key is `tb_` + 32 base62 characters: 26 from `secrets` (~154 bits) and a 6-character CRC32 checksum
of the rest, as GitHub's token format does, so a mistyped or invented key is refused without a lookup.
A publishable key (the tracking widget's, models/api_key.py) is `tb_pk_` + the same 32 characters: the prefix
lets a person or a secret scanner tell at a glance that a key is meant to be public, while the server goes by
the stored kind. It carries the web origins allowed to use it, written as browsers send them in `Origin`.
Only an HMAC-SHA256 of the key (with the server's pepper) is stored: the keys are random and long, so a
slow password hash would add ~100 ms per request and no security.

Pepper rotation: API_KEY_PEPPERS lists peppers newest first. A presented key is looked up by its hash under each
(one query); a key found under an older pepper authenticates and is re-hashed with the newest right away, and each
key records which pepper hashed it (a fingerprint), so `flask keys peppers` tells when an old pepper can go.
"""
import hashlib
import hmac
import re
import secrets
import string
import zlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import func, update
from sqlalchemy.exc import SQLAlchemyError

from ..extensions import db
from ..models import ApiKey
from ..models.types import utcnow
from .key_cache import key_lookup_cache
from .scopes import parse_scopes

BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
KEY_PREFIX = "tb_"
PUBLISHABLE_PREFIX = "tb_pk_"
RANDOM_LENGTH = 26
CHECKSUM_LENGTH = 6
KEY_PATTERN = re.compile(rf"^{KEY_PREFIX}(?:pk_)?[0-9A-Za-z]{{{RANDOM_LENGTH + CHECKSUM_LENGTH}}}$")
DISPLAY_CHARACTERS = 6  # of the random part, after the prefix
MAX_ORIGINS = 20


def _base62(number, width):
    digits = []
    for _ in range(width):
        number, remainder = divmod(number, 62)
        digits.append(BASE62[remainder])
    return "".join(reversed(digits))


def _checksum(body):
    return _base62(zlib.crc32(body.encode("ascii")), CHECKSUM_LENGTH)


def generate_secret(prefix):
    """`prefix` + 26 random base62 characters + their checksum: the format of keys and platform tokens alike."""
    body = prefix + "".join(secrets.choice(BASE62) for _ in range(RANDOM_LENGTH))
    return body + _checksum(body)


def has_valid_checksum(plain):
    return hmac.compare_digest(plain[-CHECKSUM_LENGTH:], _checksum(plain[:-CHECKSUM_LENGTH]))


def generate_plain_key(kind="secret"):
    return generate_secret(PUBLISHABLE_PREFIX if kind == "publishable" else KEY_PREFIX)


def display_prefix(plain_key):
    prefix = PUBLISHABLE_PREFIX if plain_key.startswith(PUBLISHABLE_PREFIX) else KEY_PREFIX
    return plain_key[:len(prefix) + DISPLAY_CHARACTERS]


def normalize_origin(text):
    """`https://Shop.example/` -> `https://shop.example`, the form a browser sends in `Origin`; ValueError if the
    text is not a bare http(s) origin (a path, a query, credentials or a wildcard would never match one)."""
    parts = urlsplit(text.strip())
    try:
        port = parts.port
    except ValueError:
        port = None
        parts = parts._replace(netloc="")
    if (parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password
            or parts.path not in ("", "/") or parts.query or parts.fragment or "*" in parts.netloc):
        raise ValueError(f"{text!r} is not an origin like https://shop.example (scheme, host and optional port)")
    default_port = {"http": 80, "https": 443}[parts.scheme]
    return f"{parts.scheme}://{parts.hostname}" + (f":{port}" if port and port != default_port else "")


def is_well_formed(plain_key):
    """Format and checksum only: no database, no secret involved."""
    if not plain_key or not KEY_PATTERN.match(plain_key):
        return False
    return has_valid_checksum(plain_key)


def peppers():
    """The peppers in force, newest first: API_KEY_PEPPERS, or API_KEY_PEPPER alone."""
    return tuple(current_app.config["API_KEY_PEPPERS"]) or (current_app.config["API_KEY_PEPPER"],)


def hash_key(plain_key, pepper=None):
    """The stored form of a key: HMAC-SHA256 with `pepper` (the newest by default)."""
    pepper = peppers()[0] if pepper is None else pepper
    return hmac.new(pepper.encode(), plain_key.encode("ascii"), hashlib.sha256).hexdigest()


def pepper_fingerprint(pepper):
    """A pepper's name in the api_keys table and in reports. It tells no more about the pepper than a key hash
    does (whoever holds one key and its hash can test guesses at the pepper either way): so peppers must be long
    random values, as README says."""
    return hmac.new(pepper.encode(), b"tracker_api pepper fingerprint", hashlib.sha256).hexdigest()[:12]


def pepper_counts():
    """How many keys each pepper hashed: [(position (1 = newest) or None, fingerprint or None, keys)], the
    configured peppers first (also those with no key), then fingerprints no configured pepper has (keys that no
    longer authenticate), then keys hashed before peppers were recorded (fingerprint None)."""
    counts = dict(db.session.execute(db.select(ApiKey.pepper_fingerprint, func.count())
                                     .group_by(ApiKey.pepper_fingerprint)).all())
    configured = [pepper_fingerprint(pepper) for pepper in peppers()]
    rows = [(position, fingerprint, counts.pop(fingerprint, 0)) for position, fingerprint in enumerate(configured, 1)]
    unrecorded = counts.pop(None, 0)
    rows += [(None, fingerprint, count) for fingerprint, count in sorted(counts.items())]
    return rows + ([(None, None, unrecorded)] if unrecorded else [])


def issue_key(bot_id, name, expires_in_days=None, rate_limit_per_minute=None, *, origins=None, scopes=None,
              expires_at=None, commit=True):
    """Create a key for a bot; returns (ApiKey, plain key). The plain key is never stored. Given `origins`, the
    key is a publishable one (`tb_pk_...`) usable only by the tracking widget on those origins. Given `scopes`, it
    holds only those rights (access/scopes.py; ValueError for an unknown one). Without `commit` the caller commits,
    with what else its transaction writes (the admin API's audit record)."""
    kind = "publishable" if origins is not None else "secret"
    allowed = list(dict.fromkeys(normalize_origin(origin) for origin in origins or ()))
    if kind == "publishable" and not 1 <= len(allowed) <= MAX_ORIGINS:
        raise ValueError(f"a publishable key needs between 1 and {MAX_ORIGINS} origins")
    plain_key = generate_plain_key("publishable") if kind == "publishable" else generate_plain_key()
    stored_scopes = parse_scopes(scopes)
    if expires_in_days:
        expires_at = utcnow() + timedelta(days=expires_in_days)
    api_key = ApiKey(
        bot_id=bot_id,
        name=name,
        prefix=display_prefix(plain_key),
        key_hash=hash_key(plain_key),
        pepper_fingerprint=pepper_fingerprint(peppers()[0]),
        expires_at=expires_at,
        rate_limit_per_minute=rate_limit_per_minute,
        kind=kind,
        allowed_origins="\n".join(allowed) or None,
        scopes=stored_scopes,
    )
    db.session.add(api_key)
    if commit:
        db.session.commit()
    else:
        db.session.flush()
    return api_key, plain_key


@dataclass(frozen=True)
class KeyRecord:
    """What a request needs of an API key and its bot, detached from the database session, so that a worker can keep
    it between requests (key_cache.py). Read like an ApiKey."""

    id: int
    key_hash: str
    bot_id: int
    name: str
    prefix: str
    kind: str
    rate_limit_per_minute: int | None
    origins: tuple
    scopes: tuple | None  # None: every right
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    bot_is_active: bool

    @classmethod
    def of(cls, api_key):
        return cls(api_key.id, api_key.key_hash, api_key.bot_id, api_key.name, api_key.prefix, api_key.kind,
                   api_key.rate_limit_per_minute, tuple(api_key.origins), api_key.scope_names, api_key.expires_at,
                   api_key.revoked_at, api_key.last_used_at, api_key.bot.is_active)

    is_publishable = ApiKey.is_publishable
    is_usable_at = ApiKey.is_usable_at


@dataclass(frozen=True)
class KeyCheck:
    """What a presented key turned out to be. The caller answers every refusal alike; the reason and the
    refused key's identity (a revoked or expired key is known) are for the audit trail only."""

    usable: KeyRecord | None  # the key, when it may be used
    refusal: str | None = None  # "missing-key", "malformed-key", "unknown-key", "revoked-key", "expired-key"
    key_id: int | None = None
    bot_id: int | None = None
    last_used_at: datetime | None = None

    @classmethod
    def of(cls, record, refusal=None):
        return cls(None if refusal else record, refusal, record.id, record.bot_id, record.last_used_at)


def cached_token(plain_key):
    """The key token under which this worker holds a lookup of `plain_key`, or None (never for an invented key: only
    lookups that found a key are cached)."""
    if not is_well_formed(plain_key):
        return None
    return key_lookup_cache().token_of(hash_key(plain_key, peppers()[0]))


def check_key(plain_key, cache_token=None):
    """Look a plain key up: usable, or refused and why. Revocation takes effect on the very next request in every
    worker: the lookup is read from the database, or from this worker's cache while `cache_token` (the shared key
    token this request read, key_cache.py) says no key or bot has changed since it was read."""
    if not plain_key:
        return KeyCheck(None, "missing-key")
    if not is_well_formed(plain_key):
        return KeyCheck(None, "malformed-key")
    in_force = peppers()
    key_hash = hash_key(plain_key, in_force[0])  # the cache knows a key by its hash under the newest pepper
    cache = key_lookup_cache()
    record = cache.get(key_hash, cache_token) if cache_token else None
    if record is None:
        if not cache_token:
            cache.clear()  # Redis away: nothing read before the outage can be trusted after it
        hashes = [key_hash] + [hash_key(plain_key, pepper) for pepper in in_force[1:]]
        api_key = db.session.execute(db.select(ApiKey).where(ApiKey.key_hash.in_(hashes))).scalar_one_or_none()
        if api_key is None:
            return KeyCheck(None, "unknown-key")
        record = replace(KeyRecord.of(api_key), key_hash=key_hash)
        newest = pepper_fingerprint(in_force[0])
        if api_key.key_hash != key_hash or api_key.pepper_fingerprint != newest:
            _rehash(api_key.id, api_key.key_hash, key_hash, newest)
        if cache_token:
            cache.put(key_hash, cache_token, record)
    if record.revoked_at is not None:
        return KeyCheck.of(record, "revoked-key")
    if not record.is_usable_at(utcnow()):
        return KeyCheck.of(record, "expired-key")
    return KeyCheck.of(record)


def _rehash(key_id, old_hash, new_hash, fingerprint):
    """Store a key's hash under the newest pepper (it was found under an older one, or before peppers were
    recorded). Written only if no one else did meanwhile; a failure costs nothing but a try on the next use. Not
    through the ORM: this changes no verdict, so cached lookups (key_cache.py) stay valid."""
    try:
        db.session.execute(update(ApiKey).where(ApiKey.id == key_id, ApiKey.key_hash == old_hash)
                           .values(key_hash=new_hash, pepper_fingerprint=fingerprint))
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        current_app.logger.warning("could not re-hash API key %s with the newest pepper; next use tries again", key_id)


def find_usable_key(plain_key):
    """The KeyRecord of a plain key, or None if unknown, revoked or expired."""
    return check_key(plain_key).usable


def revoke(model, record_id):
    """Revoke an API key or a platform token (`model`); returns it, or None if there is none. Revoking twice keeps
    the first time."""
    record = db.session.get(model, record_id)
    if record is not None and record.revoked_at is None:
        record.revoked_at = utcnow()
        db.session.commit()
    return record


def revoke_key(key_id):
    return revoke(ApiKey, key_id)


def set_rate_limit(key_id, per_minute):
    """Give a key its own requests-per-minute budget (None: back to the default); returns it, or None."""
    api_key = db.session.get(ApiKey, key_id)
    if api_key is not None:
        api_key.rate_limit_per_minute = per_minute
        db.session.commit()
    return api_key
