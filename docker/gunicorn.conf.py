"""gunicorn settings for every deployment (docker/Dockerfile, compose) and for the tests that start the stack.

    gunicorn -c docker/gunicorn.conf.py wsgi:app

Every setting reads an environment variable (GUNICORN_WORKERS, GUNICORN_THREADS, ...), so a deployment
tunes it without editing this file; a command-line option still overrides both.

Why gthread, with 2 workers per CPU and 4 threads each: the API is database-bound (every request looks its
key up, reads or writes PostgreSQL and talks to Redis), so a worker spends much of a request waiting on
sockets; threads overlap those waits inside one process (one interpreter, one connection pool) where sync
workers need one process each. gthread also keeps nginx's upstream connections alive between requests,
which sync workers cannot. The figures behind the choice are in bench/README.md.
"""
import glob
import os
import shutil
import tempfile


def setting(name, default):
    """GUNICORN_<NAME> from the environment, as the type of its default."""
    value = os.environ.get(f"GUNICORN_{name}")
    return default if value in (None, "") else type(default)(value)


bind = setting("BIND", "0.0.0.0:8000")
worker_class = setting("WORKER_CLASS", "gthread")
workers = setting("WORKERS", 2 * len(os.sched_getaffinity(0)))  # the CPUs this process may use, not the host's
threads = setting("THREADS", 4)  # keep SQLAlchemy's pool (5 + 10 overflow) above this: see bench/README.md

# A request that has not finished in `timeout` seconds is stuck: the worker is killed and replaced (nginx's
# proxy_read_timeout is a little longer, so the client gets nginx's 504 rather than a cut connection).
timeout = setting("TIMEOUT", 30)
graceful_timeout = setting("GRACEFUL_TIMEOUT", 30)  # on SIGTERM / SIGHUP, requests in flight may finish
# Longer than nginx's upstream keepalive_timeout (60 s): nginx, not gunicorn, closes an idle connection,
# so nginx never sends a request down a connection that gunicorn is closing at that moment.
keepalive = setting("KEEPALIVE", 75)
# Workers are replaced after about this many requests (jittered so they do not all restart at once):
# whatever a long-lived process leaks or fragments is given back. Not often: a new worker imports the app
# (0.6 s of CPU) and warms its caches (compiled statements, key lookups) again, and at 2000 requests, replaced
# every few seconds under load, that cost a third of the throughput (bench/README.md). 50,000 is minutes at
# full load and days at an ordinary one; the workers' memory is flat without replacement (`make bench`'s soak).
max_requests = setting("MAX_REQUESTS", 50_000)
max_requests_jitter = setting("MAX_REQUESTS_JITTER", 5_000)

# Where workers keep their heartbeat files; the image sets /dev/shm, since a container's /tmp may be on a
# disk whose stalls would make gunicorn take a healthy worker for a stuck one.
worker_tmp_dir = os.environ.get("GUNICORN_WORKER_TMP_DIR") or None

# The app writes one JSON line per request to stdout (tracker_api/access/audit.py): no gunicorn access log beside it.
accesslog = None
errorlog = "-"  # gunicorn's own messages (boots, worker deaths) on stderr
loglevel = setting("LOG_LEVEL", "info")
proc_name = "tracker_api"
# No control socket (gunicornc): its default path is one per user, so two instances on one host would share it.
control_socket_disable = True

# The proxy trust of config.TRUSTED_PROXIES (tracker_api/web/proxy.py) applies to X-Forwarded-Proto in gunicorn
# too: with no proxy in front, trust nobody's forwarding headers; behind nginx, the app's port is reachable
# from nginx only (compose publishes nginx's port alone), so whoever connects is the proxy.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "*" if int(os.environ.get("TRUSTED_PROXIES", "0")) else "")

# /metrics adds up every worker's counts (tracker_api/ops/metrics.py): prometheus_client keeps each process's
# values in files in this directory. A private one per server (removed when it exits) unless the deployment
# names one.
PRIVATE_METRICS_PREFIX = "tracker_api_metrics_"
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix=PRIVATE_METRICS_PREFIX)


def on_starting(server):
    """Counts left by an earlier run of this server in the same directory would be added to this one's."""
    directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    os.makedirs(directory, exist_ok=True)
    for stale in glob.glob(os.path.join(directory, "*.db")):
        os.remove(stale)


def child_exit(server, worker):
    """A dead worker's counters stay in the sum; its live gauges (if any) are dropped."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    """A private directory goes with its server."""
    directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    if os.path.basename(directory).startswith(PRIVATE_METRICS_PREFIX):
        shutil.rmtree(directory, ignore_errors=True)
