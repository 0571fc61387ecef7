"""Read replicas (DATABASE_REPLICA_URLS): their binds, and the lag check that takes a replica out of service. Which
requests read where, and read-your-writes, are access/replica_reads.py's. Operators: docs/REPLICAS.md.

Lag: each worker checks every replica every DATABASE_REPLICA_CHECK_SECONDS in a background thread (requests never
wait for it) and uses only those whose replay is within DATABASE_REPLICA_MAX_LAG_SECONDS of the primary. A replica a
request cannot reach is set aside at once, and that request reads from the primary.
"""
import itertools
import logging
import os
import threading
import weakref

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, DisconnectionError

from config import normalize_database_url


log = logging.getLogger(__name__)

BIND_PREFIX = "replica-"

# Seconds the replica's replay is behind the primary. Nothing left to replay while WAL streams in: 0 (an idle
# primary writes no new WAL, so the last replayed commit may be old and the replica still current). Something left,
# or no WAL receiver streaming (the replica cannot know what it misses): the age of the last replayed commit, which
# over-states the lag after an idle spell, erring towards the primary. A server not in recovery is current.
LAG = text("""
SELECT CASE
    WHEN NOT pg_is_in_recovery() THEN 0
    WHEN pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn()
         AND EXISTS (SELECT FROM pg_stat_wal_receiver WHERE status = 'streaming') THEN 0
    ELSE coalesce(extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8, 'Infinity')
END""")


def replica_binds(config, engine_options):
    """Flask-SQLAlchemy binds for DATABASE_REPLICA_URLS, with the primary's engine options. Outside PgBouncer mode
    their connections run in autocommit: a replica serves single reads, and a transaction held open on a standby
    only risks cancellation by replay conflicts."""
    options = dict(engine_options)
    options["connect_args"] = {"connect_timeout": 2, **options.get("connect_args", {})}  # an unreachable host
    if not config.get("DATABASE_PGBOUNCER"):
        options["isolation_level"] = "AUTOCOMMIT"
    return {f"{BIND_PREFIX}{number}": {**options, "url": normalize_database_url(url)}
            for number, url in enumerate(config["DATABASE_REPLICA_URLS"])}


def describe(engine):
    return f"{engine.url.host}:{engine.url.port}/{engine.url.database}"


class ReplicaSet:
    """One worker's view of the replicas: which are in service, each in turn."""

    def __init__(self, engines, max_lag_seconds, check_seconds):
        self.engines = tuple(engines)
        self.max_lag, self.check_seconds = max_lag_seconds, check_seconds
        self._in_service = ()  # none until the first check: the primary serves meanwhile
        self._turn = itertools.count()
        self._checker_pid = None
        self._checker_lock = threading.Lock()
        self._stopped = threading.Event()

    @property
    def in_service(self):
        return self._in_service

    def pick(self):
        """A replica in service, in turn; None when there is none."""
        self._start_checker()
        in_service = self._in_service
        return in_service[next(self._turn) % len(in_service)] if in_service else None

    def set_aside(self, engine):
        """Take a replica a request could not reach out of service until a check finds it back."""
        self._in_service = tuple(other for other in self._in_service if other is not engine)

    def check(self):
        """Measure every replica's lag now; keep in service those within the bound."""
        before = set(self._in_service)
        in_service = []
        for engine in self.engines:
            lag = measure_lag(engine)
            if lag is not None and lag <= self.max_lag:
                in_service.append(engine)
                if engine not in before:
                    log.info("replica %s in service (lag %.1f s)", describe(engine), lag)
            elif engine in before:
                log.warning("replica %s out of service: %s", describe(engine),
                            "unreachable" if lag is None else f"replay {lag:.1f} s behind")
        self._in_service = tuple(in_service)

    def stop(self):
        self._stopped.set()

    def _start_checker(self):
        """One checking thread per process, started on first use (a forked worker does not inherit its parent's);
        it holds the set weakly and ends with it."""
        if self._checker_pid == os.getpid():
            return
        with self._checker_lock:
            if self._checker_pid == os.getpid():
                return
            self._checker_pid = os.getpid()
        threading.Thread(target=_check_every_interval, args=(weakref.ref(self), self._stopped, self.check_seconds),
                         name="replica-lag-check", daemon=True).start()


def measure_lag(engine):
    """The replica's replay lag in seconds, or None when it does not answer."""
    try:
        with engine.connect() as connection:
            return connection.execute(LAG).scalar_one()
    except (DBAPIError, DisconnectionError) as error:
        log.debug("replica %s: %s", describe(engine), error)
        return None


def _check_every_interval(replicas_reference, stopped, seconds):
    while not stopped.is_set():
        replicas = replicas_reference()
        if replicas is None:
            return
        try:
            replicas.check()
        except Exception:  # never let the thread die: the next interval tries again
            log.exception("checking the replicas failed")
        del replicas
        stopped.wait(seconds)
