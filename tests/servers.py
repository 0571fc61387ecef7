"""Real processes for the tests that need them: gunicorn serving `wsgi:app`, Debian's nginx in front of it with
docker/nginx.conf, and `flask --app wsgi ...` run from the repository root, all as an operator starts them; and a
private PostgreSQL cluster and redis-server that a fault test may stop, restart or starve (never the shared ones)."""
import glob
import json
import os
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis
import requests

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
GUNICORN = BIN / "gunicorn"
FLASK = BIN / "flask"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_flask(*args, env, timeout=60):
    """`flask --app wsgi ARGS` from the repository root; the finished process (output captured as text)."""
    return subprocess.run([str(FLASK), "--app", "wsgi", *map(str, args)], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout)


class Gunicorn:
    """`gunicorn wsgi:app` as an operator starts it, with its stdout (the JSON request log) kept in a file.

    `options` are extra command-line options (e.g. `--threads 8`), given before the app as an operator would."""

    def __init__(self, directory, env, workers, *options, port=None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.stdout_path, self.stderr_path = directory / "gunicorn.out", directory / "gunicorn.err"
        with open(self.stdout_path, "w") as stdout, open(self.stderr_path, "w") as stderr:
            self.process = subprocess.Popen(
                [str(GUNICORN), "--workers", str(workers), "--bind", f"127.0.0.1:{self.port}",
                 "--graceful-timeout", "3", *options, "wsgi:app"], cwd=REPO, env=env, stdout=stdout, stderr=stderr)
        self._wait_for(workers)

    def _wait_for(self, workers, timeout=40):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited {self.process.returncode}: {self.stderr()[-2000:]}")
            if self.stderr().count("Booting worker") >= workers:
                try:
                    if requests.get(self.url + "/healthz", timeout=5).ok:
                        return
                except requests.RequestException:  # not listening yet, or a worker still importing the app
                    pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"gunicorn did not start within {timeout} s: {self.stderr()[-2000:]}")

    def stderr(self):
        return self.stderr_path.read_text()

    def request_lines(self):
        lines = (json.loads(text) for text in self.stdout_path.read_text().splitlines() if text.startswith("{"))
        return [line for line in lines if line.get("event") == "request"]

    def lines_for(self, request_ids):
        wanted = set(request_ids)
        return [line for line in self.request_lines() if line["request_id"] in wanted]

    def stop(self):
        stop_process(self.process)


def stop_process(process, grace_seconds=10):
    """SIGTERM (a graceful shutdown), then SIGKILL if it outstays the grace period."""
    process.terminate()
    try:
        process.wait(grace_seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def clean_env(**settings):
    """This process's environment without the app's own settings, plus `settings`: what a shell that sets
    only these would give `flask` or gunicorn (the tests' own variables, e.g. CI, pass through)."""
    prefixes = ("DATABASE_", "REDIS_", "RATE_LIMIT", "WIDGET_", "INVALID_KEY", "ADDRESS_BLOCK", "TRUSTED_PROXIES",
                "TRACKER_ENV", "API_KEY_PEPPER", "WEBHOOK_SECRET_KEYS", "FLASK_")
    env = {name: value for name, value in os.environ.items() if not name.startswith(prefixes)}
    env.update({name: str(value) for name, value in settings.items()}, PYTHONUNBUFFERED="1")
    return env


# --- nginx in front, with the deployment's own config files ------------------------------------------------
DOCKER = REPO / "docker"
GUNICORN_CONF = DOCKER / "gunicorn.conf.py"
NGINX_SITE = DOCKER / "nginx.conf"
# What the official nginx image's main config gives docker/nginx.conf; here every path is the test's own.
NGINX_MAIN = """\
daemon off;
worker_processes 2;
pid $directory/nginx.pid;
error_log $directory/error.log warn;
$user
events { worker_connections 1024; }
http {
    client_body_temp_path $directory/client_body;
    proxy_temp_path $directory/proxy;
    fastcgi_temp_path $directory/fastcgi;
    uwsgi_temp_path $directory/uwsgi;
    scgi_temp_path $directory/scgi;
    access_log $directory/access.log;
    include $directory/tracker_api.conf;
}
"""


def nginx_binary():
    """Debian's nginx (in /usr/sbin, which a non-root PATH may lack), or None."""
    return shutil.which("nginx", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"]))


def render_nginx_site(port, upstream_ports):
    """docker/nginx.conf with its placeholders filled, as envsubst fills them in the nginx image."""
    servers = " ".join(f"server 127.0.0.1:{upstream};" for upstream in upstream_ports)
    return string.Template(NGINX_SITE.read_text()).safe_substitute(NGINX_PORT=f"127.0.0.1:{port}",
                                                                   TRACKER_API_UPSTREAM=servers)


class Nginx:
    """Debian's nginx in the foreground with docker/nginx.conf in front of gunicorn servers on `upstream_ports`;
    its pid file, logs and temporary files live in `directory`."""

    def __init__(self, directory, upstream_ports, port=None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.directory = directory
        (directory / "tracker_api.conf").write_text(render_nginx_site(self.port, upstream_ports))
        # As root, nginx's workers would run as `nobody`, who cannot enter a pytest temporary directory.
        main = string.Template(NGINX_MAIN).substitute(directory=directory,
                                                      user="user root;" if os.geteuid() == 0 else "")
        (directory / "nginx.conf").write_text(main)
        with open(directory / "nginx.out", "w") as output:
            self.process = subprocess.Popen([nginx_binary(), "-e", str(directory / "error.log"), "-p", str(directory),
                                             "-c", str(directory / "nginx.conf")], stdout=output, stderr=output)
        self._wait_until_serving()

    def _wait_until_serving(self, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited {self.process.returncode}: {self.errors()[-2000:]}")
            try:
                if requests.get(self.url + "/healthz", timeout=5).ok:
                    return
            except requests.RequestException:  # not listening yet
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"nginx did not start within {timeout} s: {self.errors()[-2000:]}")

    def errors(self):
        return "".join(path.read_text() for path in (self.directory / "nginx.out", self.directory / "error.log")
                       if path.exists())

    def stop(self):
        stop_process(self.process)


# --- private database servers, for fault tests ----------------------------------------------------------------

def worker_pids(master_pid):
    """The pids of a gunicorn master's workers (its children), from /proc."""
    pids = set()
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            fields = Path(stat).read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while we looked
            continue
        if int(fields[1]) == master_pid:
            pids.add(int(stat.split("/")[2]))
    return pids


def as_postgres_user(command):
    """PostgreSQL and PgBouncer refuse to run as root: as root, run `command` as `postgres`."""
    return ["runuser", "-u", "postgres", "--", *map(str, command)] if os.geteuid() == 0 else list(map(str, command))


class PostgresCluster:
    """A PostgreSQL data directory of a test's own under /tmp, on a free TCP port, run with pg_ctl: as root, as
    `postgres`, since the server refuses root and could not enter a pytest temporary directory (0700, root's)."""

    def __init__(self, prefix, port=None):
        self.port = port or free_port()
        self.directory = Path(tempfile.mkdtemp(prefix=prefix))
        self.data, self.log = self.directory / "data", self.directory / "postgres.log"
        self.bin = Path(sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))[-1]).parent
        self.chown(self.directory)

    def chown(self, path):
        """Hand `path` to the postgres user when we are root (the server must own what it writes)."""
        if os.geteuid() == 0:
            shutil.chown(path, "postgres", "postgres")

    def _run(self, program, *args, timeout=120):
        result = subprocess.run(as_postgres_user([self.bin / program, *args]), capture_output=True, text=True,
                                timeout=timeout)
        if result.returncode:
            raise RuntimeError(f"{program} failed: {result.stdout}{result.stderr}{self.server_log()[-2000:]}".strip())
        return result

    def server_log(self):
        return self.log.read_text() if self.log.exists() else ""

    def start(self):
        self._run("pg_ctl", "start", "-w", "-t", "60", "-D", self.data, "-l", self.log)

    def stop(self, mode="fast"):
        """`fast` rolls back open transactions and closes every connection, as an operator's restart does."""
        self._run("pg_ctl", "stop", "-w", "-m", mode, "-D", self.data)

    def restart(self):
        self._run("pg_ctl", "restart", "-w", "-m", "fast", "-D", self.data, "-l", self.log)

    def is_running(self):
        return (self.data / "postmaster.pid").exists()

    def destroy(self):
        if self.is_running():
            self.stop("immediate")
        shutil.rmtree(self.directory, ignore_errors=True)


class PrivatePostgres(PostgresCluster):
    """A new cluster (initdb) with no Unix socket, so nothing is shared with the machine's server."""

    def __init__(self, port=None):
        super().__init__("tracker_api_pg_", port)
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._run("initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8",
                  "--locale=C", timeout=60)
        # fsync off: a test cluster's speed matters, its durability across power loss does not.
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(f"port = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\n"
                       "fsync = off\nfull_page_writes = off\nmax_connections = 100\n")
        self.start()


class PrivateRedis:
    """A redis-server of the test's own on a fixed free port (so it comes back where the app looks for it),
    without persistence: stopping it loses every counter, as a crashed cache would."""

    def __init__(self, directory, port=None, *, config_file=None, options=()):
        """`config_file` (which Sentinel needs, to write to) and `options` (e.g. `--sentinel`) add to the defaults."""
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.directory = directory
        self.config_file, self.options = config_file, list(options)
        self.process = None
        self.start()

    def start(self):
        self.process = subprocess.Popen(
            ["redis-server", *([str(self.config_file)] if self.config_file else []), "--port", str(self.port),
             "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no",
             "--dir", str(self.directory), *self.options], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url, socket_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"redis-server did not start on port {self.port}")
                time.sleep(0.05)
            finally:
                client.close()

    def stop(self):
        """Killed: connections are refused from now on (a frozen one is test_ratelimit_gunicorn.py's case)."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)  # in case a test froze it
            self.process.kill()
            self.process.wait()

    def client(self):
        return redis.Redis.from_url(self.url, socket_timeout=1, decode_responses=True)


@dataclass
class Stack:
    """The app as deployed, for the tests of served processes: `server` is what requests go to (a gunicorn, or nginx
    in front of `hosts`), `app` the same app in-process on the same database and Redis, for set-up and inspection."""

    app: object
    server: object
    hosts: list = field(default_factory=list)
    postgres: object = None  # a PrivatePostgres, when the stack has its own
    redis: object = None  # a PrivateRedis, likewise

    @property
    def url(self):
        return self.server.url

    def log_lines(self, request_ids):
        return [line for host in self.hosts for line in host.lines_for(request_ids)]


# --- a streaming replica of the machine's primary, and PgBouncer in front of it ------------------------------
import psycopg  # noqa: E402  (appended section: imports kept with the classes that use them)

# A hot standby refuses to start with less of these than its primary has.
STANDBY_MINIMUMS = ("max_connections", "max_worker_processes", "max_wal_senders", "max_prepared_transactions",
                    "max_locks_per_transaction")


class StreamingReplica(PostgresCluster):
    """A hot standby of the primary at `primary_host:primary_port`, made as an operator makes one: pg_basebackup
    (-R: standby.signal and primary_conninfo, WAL streamed during the copy) into a directory of its own, then
    pg_ctl. No replication slot is left on the primary. Raises RuntimeError saying what failed."""

    def __init__(self, primary_host, primary_port, port=None):
        super().__init__("tracker_api_replica_", port)
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}"
        self.primary_conninfo = f"host={primary_host} port={primary_port} user=postgres dbname=postgres"
        try:
            self._make(primary_host, primary_port)
        except BaseException:
            self.destroy()
            raise

    def _make(self, primary_host, primary_port):
        with psycopg.connect(self.primary_conninfo, autocommit=True) as primary:
            minimums = {name: primary.execute(f"SHOW {name}").fetchone()[0] for name in STANDBY_MINIMUMS}
        for attempt in range(3):  # on a shared server, another's test may terminate every backend, ours too
            try:
                self._run("pg_basebackup", "-h", primary_host, "-p", primary_port, "-U", "postgres", "-D",
                          self.data, "-R", "-X", "stream", "-c", "fast", "--no-sync")
                break
            except RuntimeError:
                shutil.rmtree(self.data, ignore_errors=True)
                if attempt == 2:
                    raise
        # Debian keeps postgresql.conf and pg_hba.conf in /etc, so the copy may have none: written (or overridden,
        # the last setting wins) here. fsync off: a test replica's speed matters, not its durability.
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\n"
                       "hot_standby = on\nhot_standby_feedback = on\nfsync = off\nshared_buffers = 32MB\n"
                       + "".join(f"{name} = {value}\n" for name, value in minimums.items()))
        (self.data / "pg_hba.conf").write_text("host all all 127.0.0.1/32 trust\n")
        (self.data / "pg_ident.conf").touch()
        for path in (self.data / "postgresql.conf", self.data / "pg_hba.conf", self.data / "pg_ident.conf"):
            self.chown(path)
        self.start()

    def connect(self, database="postgres"):
        return psycopg.connect(f"{self.url}/{database}", autocommit=True)

    def pause_replay(self):
        """WAL still arrives but is not applied: the replica falls behind by whatever the primary commits now."""
        with self.connect() as replica:
            replica.execute("SELECT pg_wal_replay_pause()")

    def resume_replay(self):
        with self.connect() as replica:
            replica.execute("SELECT pg_wal_replay_resume()")

    def catch_up(self, timeout=30):
        """Wait until the replica has applied everything the primary had written when called."""
        with psycopg.connect(self.primary_conninfo, autocommit=True) as primary:
            target = primary.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
        deadline = time.monotonic() + timeout
        with self.connect() as replica:
            while not replica.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (target,)).fetchone()[0]:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the replica did not replay up to {target} within {timeout} s")
                time.sleep(0.05)


PGBOUNCER_INI = """\
[databases]
* = host={host} port={server_port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {directory}/userlist.txt
admin_users = postgres
pool_mode = transaction
default_pool_size = {pool_size}
max_client_conn = 200
logfile = {directory}/pgbouncer.log
pidfile = {directory}/pgbouncer.pid
"""


class PgBouncer:
    """Debian's pgbouncer in transaction pooling mode in front of `host:server_port`, with `pool_size` server
    connections per database: fewer than the app's connections, so that consecutive transactions of one client
    connection run on different server connections (what breaks prepared statements and session settings)."""

    def __init__(self, host, server_port, pool_size=2, port=None):
        self.port = port or free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}"
        self.directory = Path(tempfile.mkdtemp(prefix="tracker_api_pgbouncer_"))
        (self.directory / "userlist.txt").write_text('"postgres" ""\n')
        config = self.directory / "pgbouncer.ini"
        config.write_text(PGBOUNCER_INI.format(host=host, server_port=server_port, port=self.port,
                                               directory=self.directory, pool_size=pool_size))
        if os.geteuid() == 0:
            for path in (self.directory, self.directory / "userlist.txt", config):
                shutil.chown(path, "postgres", "postgres")
        binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
        user = {"user": "postgres", "group": "postgres"} if os.geteuid() == 0 else {}
        self.process = subprocess.Popen([binary, str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        **user)
        deadline = time.monotonic() + 15
        while True:
            try:
                psycopg.connect(f"{self.url}/postgres", connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"pgbouncer did not start: {self.log()[-2000:]}")
                time.sleep(0.1)

    def log(self):
        path = self.directory / "pgbouncer.log"
        return path.read_text() if path.exists() else ""

    def admin(self, command):
        """Rows of a PgBouncer admin console command (SHOW POOLS, SHOW SERVERS, ...) as dicts."""
        with psycopg.connect(f"{self.url}/pgbouncer", autocommit=True, prepare_threshold=None) as console:
            cursor = console.execute(command)
            names = [column.name for column in cursor.description]
            return [dict(zip(names, row)) for row in cursor.fetchall()]

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        shutil.rmtree(self.directory, ignore_errors=True)
