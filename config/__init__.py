"""Settings classes, read from the environment; `load_config()` picks one by TRACKER_ENV."""
import os
import re

from cryptography.fernet import Fernet


# Fixed and public, so that development and test databases stay readable across restarts; production does not
# start unless WEBHOOK_SECRET_KEYS is set.
DEVELOPMENT_WEBHOOK_SECRET_KEY = "dHJhY2tlci1hcGktZGV2LWtleS1ub3QtYS1zZWNyZXQ="  # nosec B105: a public development key


def comma_list(text):
    """`a, b,,c` -> ("a", "b", "c")."""
    return tuple(item.strip() for item in (text or "").split(",") if item.strip())


def normalize_database_url(url):
    """Accept the usual `postgresql://user@host/db` form and route it to the psycopg 3 driver."""
    return re.sub(r"^postgres(?:ql)?://", "postgresql+psycopg://", url)


class Config:
    """Embedded defaults: an SQLite file, in-memory limiter storage. Safe for a laptop, not for production."""

    ENV_NAME = "development"
    SQLALCHEMY_DATABASE_URI = normalize_database_url(
        os.environ.get("DATABASE_URL", "sqlite:///" + os.path.abspath("instance/tracker_api.sqlite3"))
    )
    # No pool_pre_ping: a pooled PostgreSQL connection the database dropped (a restart, a failover) is replaced at
    # checkout by a poll of its socket, without a round trip (database.py), so requests succeed again as soon as the
    # database is back, without restarting the workers (tests/test_faults.py).
    SQLALCHEMY_ENGINE_OPTIONS = {}
    # PostgreSQL cancels any one statement that runs longer than this (0: no limit), and the request gets a 503
    # problem. Below gunicorn's 30 s timeout, so a stuck query or a lock held too long costs one request, not a
    # killed worker and every request its other threads were serving. `flask db upgrade` is bound by it too.
    DATABASE_STATEMENT_TIMEOUT_MS = int(os.environ.get("DATABASE_STATEMENT_TIMEOUT_MS", "10000"))
    # Read replicas (tracker_api/replicas.py, docs/REPLICAS.md): PostgreSQL streaming replicas, comma-separated URLs.
    # Unset: every statement goes to DATABASE_URL, as before, with nothing added to any request. Set: the API's GET
    # and HEAD requests read from a replica, everything else (writes, the change feed, key lookups) from the primary.
    DATABASE_REPLICA_URLS = tuple(normalize_database_url(url.strip()) for url in
                                  os.environ.get("DATABASE_REPLICA_URLS", "").split(",") if url.strip())
    # Read-your-writes: an API key that has just sent a write reads from the primary for this long. Longer than the
    # replicas' usual replay lag; the mark is kept in Redis (REDIS_URL), so it holds in every worker.
    DATABASE_REPLICA_STICKY_SECONDS = float(os.environ.get("DATABASE_REPLICA_STICKY_SECONDS", "5"))
    # A replica whose replay lags further behind the primary than this (or that does not answer) is skipped, and the
    # primary serves its reads until a check finds it within bounds again. Each worker checks every replica this
    # often, in a background thread: a request never waits for a check.
    DATABASE_REPLICA_MAX_LAG_SECONDS = float(os.environ.get("DATABASE_REPLICA_MAX_LAG_SECONDS", "2"))
    DATABASE_REPLICA_CHECK_SECONDS = float(os.environ.get("DATABASE_REPLICA_CHECK_SECONDS", "1"))
    # true: DATABASE_URL (and the replicas' URLs) lead to PgBouncer in transaction pooling mode. Then no statement is
    # prepared on the server (psycopg's prepare_threshold=None), no setting is sent with the connection (PgBouncer
    # before 1.20 refuses libpq's `options`), and each transaction sets its own statement_timeout and time zone with
    # SET LOCAL semantics; reads then run in a transaction too (database.py).
    DATABASE_PGBOUNCER = os.environ.get("DATABASE_PGBOUNCER", "false").lower() in ("1", "true", "yes", "on")
    # None: rate-limit counters, usage and address blocks live in each process's memory (one worker only)
    REDIS_URL = os.environ.get("REDIS_URL")
    # An outage must cost a request milliseconds, not seconds: see access/shared_store.py for the policy.
    REDIS_TIMEOUT_SECONDS = float(os.environ.get("REDIS_TIMEOUT_SECONDS", "0.25"))
    REDIS_RETRY_INTERVAL_SECONDS = float(os.environ.get("REDIS_RETRY_INTERVAL_SECONDS", "5"))
    API_KEY_PEPPER = os.environ.get("API_KEY_PEPPER", "development-pepper-not-secret")
    # Peppers for rotation, comma-separated, newest first (access/keys.py): new keys and keys in use are hashed with
    # the newest, a key hashed with an older one still authenticates (and is re-hashed). Unset: API_KEY_PEPPER alone.
    API_KEY_PEPPERS = comma_list(os.environ.get("API_KEY_PEPPERS"))
    # The most a worker keeps an API key's lookup (access/key_cache.py); a revocation through the app or
    # `flask keys` takes effect on the next request anyway. Bounds what the cache cannot see: a key or bot changed
    # by hand in SQL.
    KEY_CACHE_SECONDS = float(os.environ.get("KEY_CACHE_SECONDS", "60"))
    # How many proxies (nginx: 1) append to X-Forwarded-For; 0 trusts none and uses the socket's peer.
    TRUSTED_PROXIES = int(os.environ.get("TRUSTED_PROXIES", "0"))
    MAX_CONTENT_LENGTH = int(os.environ.get("MAX_CONTENT_LENGTH", str(1024 * 1024)))

    # Rate limits (access/rate_limits.py): requests per minute, one budget per key for the whole API; a key's own
    # `rate_limit_per_minute` overrides the default. Requests without a valid key share one budget per address.
    RATE_LIMIT_PER_MINUTE = int(os.environ.get("RATE_LIMIT_PER_MINUTE", "60"))
    RATE_LIMIT_PER_ADDRESS = int(os.environ.get("RATE_LIMIT_PER_ADDRESS", "30"))
    # The tracking widget's lookups (publishable keys) have budgets of their own: per key (every visitor of the
    # company's site shares it; a key's own `rate_limit_per_minute` overrides it) and per visitor address.
    WIDGET_RATE_LIMIT_PER_KEY = int(os.environ.get("WIDGET_RATE_LIMIT_PER_KEY", "600"))
    WIDGET_RATE_LIMIT_PER_ADDRESS = int(os.environ.get("WIDGET_RATE_LIMIT_PER_ADDRESS", "20"))
    # The platform admin API's budget per platform token (requests per minute); requests to it without a valid token
    # share RATE_LIMIT_PER_ADDRESS per address, as the public API's do.
    ADMIN_RATE_LIMIT_PER_MINUTE = int(os.environ.get("ADMIN_RATE_LIMIT_PER_MINUTE", "600"))
    # Suspicious activity (access/security_events.py): this many refused keys from one address within a minute
    # blocks the address; this many 429s for one key within ten minutes is recorded as hammering.
    INVALID_KEY_BURST = int(os.environ.get("INVALID_KEY_BURST", "10"))
    ADDRESS_BLOCK_MINUTES = int(os.environ.get("ADDRESS_BLOCK_MINUTES", "15"))
    RATE_LIMIT_HAMMERING = int(os.environ.get("RATE_LIMIT_HAMMERING", "30"))
    SECURITY_EVENT_COOLDOWN_SECONDS = int(os.environ.get("SECURITY_EVENT_COOLDOWN_SECONDS", "300"))
    USAGE_RETENTION_DAYS = int(os.environ.get("USAGE_RETENTION_DAYS", "30"))
    # Each worker sums its requests' usage counts and writes them to Redis this often, in one round trip, rather
    # than once per request (access/shared_store.py); 0 writes them at once. Usage reports lag by at most this much.
    SHARED_STORE_FLUSH_SECONDS = float(os.environ.get("SHARED_STORE_FLUSH_SECONDS", "1"))
    # Idempotency-Key (writes/idempotency.py): answers are replayed this long; a claim's lease outlasts any live request
    # (gunicorn kills a worker after 30 s); a twin request waits this long for the first to finish.
    # Rows one bulk import may carry (writes/imports.py); a bigger batch is a 413 naming the maximum.
    IMPORT_MAX_ROWS = int(os.environ.get("IMPORT_MAX_ROWS", "1000"))
    # What an XLSX import may unpack to (its parts' sizes summed): a zip bomb is a 413 before any XML is parsed.
    IMPORT_MAX_XLSX_UNPACKED_BYTES = int(os.environ.get("IMPORT_MAX_XLSX_UNPACKED_BYTES", str(8 * 1024 * 1024)))
    # Rows one XLSX export may hold: a workbook is sent only once its last row is in (a ZIP's directory comes
    # last), and a bigger one would outlast nginx's proxy_read_timeout before its first byte (bench/README.md has
    # the rate). CSV and NDJSON stream as they are read and have no such limit.
    EXPORT_XLSX_MAX_ROWS = int(os.environ.get("EXPORT_XLSX_MAX_ROWS", "50000"))

    # A deleted tracking number or client can be restored this long (writes/restore.py); `flask purge-deleted` erases it
    # for good afterwards.
    RESTORE_WINDOW_DAYS = int(os.environ.get("RESTORE_WINDOW_DAYS", "30"))
    IDEMPOTENCY_TTL_HOURS = float(os.environ.get("IDEMPOTENCY_TTL_HOURS", "24"))
    IDEMPOTENCY_LEASE_SECONDS = float(os.environ.get("IDEMPOTENCY_LEASE_SECONDS", "60"))
    IDEMPOTENCY_WAIT_SECONDS = float(os.environ.get("IDEMPOTENCY_WAIT_SECONDS", "2"))
    # Webhooks (tracker_api/webhooks/). Hosts a webhook URL may name even though they resolve to loopback or private
    # addresses (comma-separated host names or IPs): for a receiver on the operator's own network, and the tests.
    WEBHOOK_ALLOWED_HOSTS = tuple(host.strip().lower() for host in
                                  os.environ.get("WEBHOOK_ALLOWED_HOSTS", "").split(",") if host.strip())
    WEBHOOK_CONNECT_TIMEOUT_SECONDS = float(os.environ.get("WEBHOOK_CONNECT_TIMEOUT_SECONDS", "3"))
    WEBHOOK_READ_TIMEOUT_SECONDS = float(os.environ.get("WEBHOOK_READ_TIMEOUT_SECONDS", "10"))
    WEBHOOK_RESPONSE_MAX_BYTES = int(os.environ.get("WEBHOOK_RESPONSE_MAX_BYTES", str(16 * 1024)))
    # A claimed delivery is the worker's for this long; a worker that dies loses it then. Well above one attempt
    # (connect + read timeouts), so that no live attempt is ever taken over.
    WEBHOOK_LEASE_SECONDS = float(os.environ.get("WEBHOOK_LEASE_SECONDS", "60"))
    # Retries: 30 s, 1 min, 2 min, ... doubling up to 2 h between attempts, +-25 % jitter, for 48 h; then the
    # delivery is given up and its endpoint disabled with the reason.
    WEBHOOK_RETRY_BASE_SECONDS = float(os.environ.get("WEBHOOK_RETRY_BASE_SECONDS", "30"))
    WEBHOOK_RETRY_MAX_DELAY_SECONDS = float(os.environ.get("WEBHOOK_RETRY_MAX_DELAY_SECONDS", "7200"))
    WEBHOOK_RETRY_HOURS = float(os.environ.get("WEBHOOK_RETRY_HOURS", "48"))
    # Fernet keys that encrypt webhook signing secrets at rest (tracker_api/models/encryption.py), comma-separated, newest
    # first: the newest encrypts, all decrypt. Make one with
    # `python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`.
    WEBHOOK_SECRET_KEYS = comma_list(os.environ.get("WEBHOOK_SECRET_KEYS", DEVELOPMENT_WEBHOOK_SECRET_KEY))
    WEBHOOK_SECRET_GRACE_HOURS = float(os.environ.get("WEBHOOK_SECRET_GRACE_HOURS", "24"))
    WEBHOOK_MAX_ENDPOINTS = int(os.environ.get("WEBHOOK_MAX_ENDPOINTS", "10"))
    WEBHOOK_WORKER_POLL_SECONDS = float(os.environ.get("WEBHOOK_WORKER_POLL_SECONDS", "1"))
    WEBHOOK_WORKER_BATCH = int(os.environ.get("WEBHOOK_WORKER_BATCH", "20"))
    # One JSON line per request on stdout; load-balancer probes and Prometheus scrapes would drown the rest.
    REQUEST_LOG_SKIP_PATHS = ("/healthz", "/readyz", "/metrics")
    # Responses are dumped by compiled dumpers (tracker_api/serialization/dumping.py). On, every dump is done again by
    # marshmallow and any difference is an AssertionError: the test suite's check that they are equivalent.
    VERIFY_FAST_DUMPS = False

    # flask-smorest / OpenAPI
    API_TITLE = "Tracker API"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api"
    OPENAPI_JSON_PATH = "openapi.json"
    OPENAPI_SWAGGER_UI_PATH = "docs"
    OPENAPI_SWAGGER_UI_URL = "/api/docs/assets/swagger-ui/"
    OPENAPI_SWAGGER_UI_CONFIG = {"persistAuthorization": True, "tryItOutEnabled": True}
    OPENAPI_REDOC_PATH = "redoc"
    OPENAPI_REDOC_URL = "/api/docs/assets/redoc/redoc.standalone.js"
    # The platform admin API's own document and Swagger UI (tracker_api/resources/admin), apart from the public one.
    ADMIN_API_TITLE = "Tracker API: platform admin"
    ADMIN_API_VERSION = "v1"
    ADMIN_OPENAPI_VERSION = "3.0.3"
    ADMIN_OPENAPI_URL_PREFIX = "/api/admin"
    ADMIN_OPENAPI_JSON_PATH = "openapi.json"
    ADMIN_OPENAPI_SWAGGER_UI_PATH = "docs"
    ADMIN_OPENAPI_SWAGGER_UI_URL = "/api/docs/assets/swagger-ui/"
    ADMIN_OPENAPI_SWAGGER_UI_CONFIG = {"persistAuthorization": True}


class ProductionConfig(Config):
    """Everything secret must come from the environment; a missing setting stops the start."""

    ENV_NAME = "production"
    # Set here, so that FLASK_DEBUG or a stray FLASK_TESTING in the environment cannot turn them on.
    DEBUG = False
    TESTING = False

    def __init__(self):
        pepper = "API_KEY_PEPPERS" if os.environ.get("API_KEY_PEPPERS") else "API_KEY_PEPPER"
        missing = [name for name in ("DATABASE_URL", pepper, "REDIS_URL", "WEBHOOK_SECRET_KEYS")
                   if not os.environ.get(name)]
        if missing:
            raise RuntimeError(f"production settings missing from the environment: {', '.join(missing)}")
        self.WEBHOOK_SECRET_KEYS = comma_list(os.environ["WEBHOOK_SECRET_KEYS"])
        check_fernet_keys(self.WEBHOOK_SECRET_KEYS)


def check_fernet_keys(keys):
    """RuntimeError at start, rather than at the first webhook, for no key or a key that is no Fernet key."""
    if not keys:
        raise RuntimeError("WEBHOOK_SECRET_KEYS: give at least one Fernet key")
    for position, key in enumerate(keys, 1):
        try:
            Fernet(key)
        except ValueError:
            raise RuntimeError(f"WEBHOOK_SECRET_KEYS: key {position} is not a Fernet key (32 url-safe base64 bytes)"
                               ) from None


class TestConfig(Config):
    ENV_NAME = "test"
    TESTING = True
    # Never the developer's REDIS_URL: tests that want Redis name their own database (conftest.redis_url).
    REDIS_URL = None
    # Budgets out of the way of tests that are not about them; the rate-limit tests set their own.
    RATE_LIMIT_PER_MINUTE = 100_000
    RATE_LIMIT_PER_ADDRESS = 100_000
    INVALID_KEY_BURST = 100_000
    RATE_LIMIT_HAMMERING = 100_000
    ADMIN_RATE_LIMIT_PER_MINUTE = 100_000
    VERIFY_FAST_DUMPS = True  # every response a test makes checks serialization/dumping.py against marshmallow


CONFIGS = {"development": Config, "production": ProductionConfig, "test": TestConfig}


def load_config(name=None):
    """The settings object for TRACKER_ENV (development by default)."""
    name = name or os.environ.get("TRACKER_ENV", "development")
    try:
        return CONFIGS[name]()
    except KeyError:
        raise RuntimeError(f"TRACKER_ENV={name!r} is not one of {sorted(CONFIGS)}") from None
