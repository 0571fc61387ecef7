"""Counters and flags every worker shares (key usage, bad-key bursts, address blocks, event cooldowns),
and the Redis outage policy that every Redis user here follows.

The store is Redis when REDIS_URL is set and this process's memory otherwise. The policy: the API keeps
answering when Redis does not. Every Redis call has a short timeout (REDIS_TIMEOUT_SECONDS) and is never
retried, so a dead or hung Redis costs one request a fraction of a second; after a failure this process
works from its own memory for REDIS_RETRY_INTERVAL_SECONDS before trying Redis again. What degrades while
Redis is away: counts and blocks are per worker, and what was counted meanwhile is not merged back.
"""
import atexit
import logging
import os
import secrets
import threading
import time
import weakref
from collections import Counter
from urllib.parse import unquote, urlsplit

import redis
from flask import current_app
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.exceptions import RedisClusterException
from redis.retry import Retry
from redis.sentinel import Sentinel

log = logging.getLogger(__name__)
NAMESPACE = "tracker_api:"
REDIS_FAILURES = (redis.RedisError, RedisClusterException)  # the latter: no cluster node answered


def new_token():
    return secrets.token_hex(8)


def redis_connection_options(config):
    """Connection settings for every Redis client of the app (this store and the rate limiter's)."""
    timeout = config["REDIS_TIMEOUT_SECONDS"]
    # redis-py retries failed commands with a back-off by default: seconds of stall in an outage.
    return {"socket_timeout": timeout, "socket_connect_timeout": timeout, "retry": Retry(NoBackoff(), 0)}


def limiter_storage_options(url, config):
    """The rate limiter's storage options for REDIS_URL: the same timeouts, also for Sentinel's own connections;
    through Sentinel, reads go to the primary too (a replica's lag would skew the exact Reset header)."""
    options = redis_connection_options(config)
    if urlsplit(url).scheme == "redis+sentinel":
        return {**options, "sentinel_kwargs": redis_connection_options(config), "use_replicas": False}
    return options


def redis_client(url, config):
    """A redis-py client for REDIS_URL in any of the forms the rate limiter (the `limits` library) accepts:
    redis:// or rediss:// (one server), redis+sentinel://[user:password@]host:port[,host:port...]/service
    (the service's current primary, found through Sentinel), and redis+cluster://[user:password@]host:port[,...].
    Both the limiter and this store then follow the same Redis through a failover."""
    options = {**redis_connection_options(config), "decode_responses": True}
    parts = urlsplit(url)
    if parts.scheme not in ("redis+sentinel", "redis+cluster"):
        return redis.Redis.from_url(url, **options)
    auth = {name: unquote(value) for name, value in (("username", parts.username), ("password", parts.password))
            if value}
    nodes = [_host_and_port(location) for location in parts.netloc.rpartition("@")[2].split(",")]
    if parts.scheme == "redis+cluster":
        return RedisCluster(startup_nodes=[ClusterNode(host, port) for host, port in nodes], **auth, **options)
    service = parts.path.strip("/")
    if not service:
        raise ValueError("REDIS_URL: a redis+sentinel:// URL ends with the service name, e.g. /mymaster")
    sentinel = Sentinel(nodes, sentinel_kwargs={**auth, **redis_connection_options(config)}, **auth, **options)
    return sentinel.master_for(service)


def _host_and_port(location):
    parts = urlsplit("//" + location.strip())
    if not parts.hostname or not parts.port:
        raise ValueError(f"REDIS_URL: {location!r} needs a host and a port")
    return parts.hostname, parts.port


class MemoryStore:
    """The store in this process's memory: entries expire like Redis keys; nothing is shared."""

    kind = "memory"
    SWEEP_EVERY = 1000  # writes between purges of expired entries, so idle addresses do not pile up

    def __init__(self):
        self._entries = {}  # key -> [value, expires_at or None]
        self._lock = threading.Lock()
        self._writes = 0

    def _live(self, key, now):
        entry = self._entries.get(key)
        if entry is not None and entry[1] is not None and entry[1] <= now:
            del self._entries[key]
            return None
        return entry

    def _written(self, now):
        self._writes += 1
        if self._writes % self.SWEEP_EVERY == 0:
            self._entries = {k: e for k, e in self._entries.items() if e[1] is None or e[1] > now}

    def increment(self, key, ttl):
        """Add one to a counter that expires `ttl` seconds after its first increment; returns the new value."""
        now = time.monotonic()
        with self._lock:
            entry = self._live(key, now)
            if entry is None:
                entry = self._entries[key] = [0, now + ttl]
            entry[0] += 1
            self._written(now)
            return entry[0]

    def add(self, key, ttl):
        """Set a flag for `ttl` seconds unless it is set: True if this call set it."""
        now = time.monotonic()
        with self._lock:
            if self._live(key, now) is not None:
                return False
            self._entries[key] = [1, now + ttl]
            self._written(now)
            return True

    def put(self, key, ttl):
        """Set a flag for `ttl` seconds, replacing any earlier one and its expiry."""
        now = time.monotonic()
        with self._lock:
            self._entries[key] = [1, now + ttl]
            self._written(now)

    def ttl(self, key):
        """Seconds until the key expires (at least 1), or None if it is not there."""
        now = time.monotonic()
        with self._lock:
            entry = self._live(key, now)
        if entry is None:
            return None
        return max(1, round(entry[1] - now)) if entry[1] is not None else None

    def ttl_and_token(self, ttl_key, token_key):
        """(ttl(ttl_key), None): a process's memory cannot vouch for what other processes changed (key_cache.py)."""
        return self.ttl(ttl_key), None

    def replace_token(self, token_key):
        return True  # nothing is cached against a token kept in memory

    def delete(self, key):
        with self._lock:
            return self._entries.pop(key, None) is not None

    def update_hash(self, key, increments, values, ttl):
        """Add to some fields of a hash, set others, and (re)start its expiry."""
        now = time.monotonic()
        with self._lock:
            entry = self._live(key, now)
            if entry is None:
                entry = self._entries[key] = [{}, None]
            fields = entry[0]
            for field, amount in increments.items():
                fields[field] = str(int(fields.get(field, 0)) + amount)
            fields.update({field: str(value) for field, value in values.items()})
            entry[1] = now + ttl
            self._written(now)

    def hashes(self, keys):
        """Each key's hash as a dict of strings ({} when absent)."""
        now = time.monotonic()
        with self._lock:
            return [dict(entry[0]) if (entry := self._live(key, now)) is not None else {} for key in keys]

    def check(self):
        return "not configured: counters are kept in each process's memory"


class RedisStore:
    """The store in Redis, falling back to a MemoryStore while Redis fails (see the module's policy)."""

    kind = "redis"

    def __init__(self, url, config):
        self.url, self.config = url, config
        self._client = None
        self._client_lock = threading.Lock()
        self.retry_interval = config["REDIS_RETRY_INTERVAL_SECONDS"]
        self.fallback = MemoryStore()
        self._down_until = 0.0
        self.flush_seconds = config["SHARED_STORE_FLUSH_SECONDS"]
        self._pending = {}  # key -> [increments, values, ttl] summed since the last flush
        self._pending_lock = threading.Lock()
        self._flusher_pid = None

    @property
    def client(self):
        """Built on first use, inside the outage policy: a Cluster client connects as it is built, and Redis
        may well be down when a worker starts."""
        if self._client is None:
            # One client per process, built under a lock: a second client built by a racing thread would be
            # dropped, and redis-py closes a dropped client's connections, in use by that thread or not.
            with self._client_lock:
                if self._client is None:
                    self._client = redis_client(self.url, self.config)
        return self._client

    @property
    def available(self):
        return time.monotonic() >= self._down_until

    def _run(self, redis_call, memory_call):
        if self.available:
            try:
                result = redis_call()
            except REDIS_FAILURES as error:
                if not self._down_until:  # log the change of state, not every failed retry
                    log.warning("Redis unavailable (%s: %s): counters are per process until it answers again "
                                "(retried every %g s)", type(error).__name__, error, self.retry_interval)
                self._down_until = time.monotonic() + self.retry_interval
            else:
                if self._down_until:
                    log.warning("Redis is back: counters are shared again")
                    self._down_until = 0.0
                return result
        return memory_call()

    def increment(self, key, ttl):
        def in_redis():
            pipe = self.client.pipeline(transaction=False)
            pipe.set(NAMESPACE + key, 0, ex=ttl, nx=True)  # the expiry starts with the first increment
            pipe.incr(NAMESPACE + key)
            return pipe.execute()[1]
        return self._run(in_redis, lambda: self.fallback.increment(key, ttl))

    def add(self, key, ttl):
        return self._run(lambda: bool(self.client.set(NAMESPACE + key, 1, ex=ttl, nx=True)),
                         lambda: self.fallback.add(key, ttl))

    def put(self, key, ttl):
        self._run(lambda: self.client.set(NAMESPACE + key, 1, px=max(1, round(ttl * 1000))),
                  lambda: self.fallback.put(key, ttl))

    def ttl(self, key):
        def in_redis():
            seconds = self.client.ttl(NAMESPACE + key)
            return None if seconds < 0 else max(1, seconds)
        return self._run(in_redis, lambda: self.fallback.ttl(key))

    def ttl_and_token(self, ttl_key, token_key):
        """ttl(ttl_key) and the shared token at token_key (written afresh when absent), in one round trip; the token
        is None when Redis did not answer."""
        def in_redis():
            pipe = self.client.pipeline(transaction=False)
            pipe.ttl(NAMESPACE + ttl_key)
            pipe.get(NAMESPACE + token_key)
            seconds, token = pipe.execute()
            if token is None:  # a new or flushed Redis: SET NX GET answers the token whoever wrote it
                fresh = new_token()
                token = self.client.set(NAMESPACE + token_key, fresh, nx=True, get=True) or fresh
            return (None if seconds < 0 else max(1, seconds)), token
        return self._run(in_redis, lambda: (self.fallback.ttl(ttl_key), None))

    def replace_token(self, token_key):
        """Write a new random token; False if Redis did not answer."""
        return self._run(lambda: bool(self.client.set(NAMESPACE + token_key, new_token())), lambda: False)

    def delete(self, key):
        return self._run(lambda: bool(self.client.delete(NAMESPACE + key)), lambda: self.fallback.delete(key))

    def update_hash(self, key, increments, values, ttl):
        """Add to a hash's counters and set its values within FLUSH_SECONDS: this process sums what its requests
        add and a background thread writes it in one round trip per interval, instead of one per request (the
        usage counts: a round trip of every request's own). What a process sums is written when it exits, and
        before it reads hashes itself; a process killed outright loses at most one interval of counts."""
        with self._pending_lock:
            entry = self._pending.setdefault(key, [Counter(), {}, ttl])
            entry[0].update(increments)
            entry[1].update(values)
            entry[2] = ttl
        if self.flush_seconds:
            self._start_flusher()
        else:
            self.flush()

    def flush(self):
        """Write what update_hash summed (Redis, else this process's memory, as every call here)."""
        with self._pending_lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return

        def in_redis():
            pipe = self.client.pipeline(transaction=False)
            for key, (increments, values, ttl) in pending.items():
                for field, amount in increments.items():
                    pipe.hincrby(NAMESPACE + key, field, amount)
                if values:
                    pipe.hset(NAMESPACE + key, mapping={field: str(value) for field, value in values.items()})
                pipe.expire(NAMESPACE + key, ttl)
            pipe.execute()

        def in_memory():
            for key, (increments, values, ttl) in pending.items():
                self.fallback.update_hash(key, increments, values, ttl)
        self._run(in_redis, in_memory)

    def _start_flusher(self):
        """One flushing thread per process, started on first use (a forked worker does not inherit its parent's).
        It holds the store weakly, and ends with it."""
        if self._flusher_pid == os.getpid():
            return
        with self._pending_lock:
            if self._flusher_pid == os.getpid():
                return
            self._flusher_pid = os.getpid()
        store = weakref.ref(self)
        threading.Thread(target=_flush_every_interval, args=(store, self.flush_seconds), name="shared-store-flush",
                         daemon=True).start()
        atexit.register(_flush_if_alive, store)

    def hashes(self, keys):
        self.flush()  # what this process summed is part of the answer

        def in_redis():
            pipe = self.client.pipeline(transaction=False)
            for key in keys:
                pipe.hgetall(NAMESPACE + key)
            return pipe.execute()
        return self._run(in_redis, lambda: self.fallback.hashes(keys))

    def check(self):
        """'ok', or why Redis does not answer: asked afresh (one timeout at most), for /readyz."""
        try:
            self.client.ping()
        except REDIS_FAILURES as error:
            return f"unavailable: {type(error).__name__}"
        return "ok"


def _flush_if_alive(store_reference):
    store = store_reference()
    if store is not None:
        store.flush()


def _flush_every_interval(store_reference, seconds):
    while store_reference() is not None:
        time.sleep(seconds)
        try:
            _flush_if_alive(store_reference)
        except Exception:  # never let the thread die: the next interval tries again
            log.exception("writing the summed counters failed")


def register_shared_store(app):
    url = app.config.get("REDIS_URL")
    app.extensions["shared_store"] = RedisStore(url, app.config) if url else MemoryStore()


def shared_store():
    return current_app.extensions["shared_store"]
