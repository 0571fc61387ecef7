"""Real processes for the tests that need them: gunicorn serving `wsgi:app`, Debian's nginx in front of it with
docker/nginx.conf, and `flask --app wsgi ...` run from the repository root, all as an operator starts them."""
import json
import os
import shutil
import socket
import string
import subprocess
import sys
import time
from pathlib import Path

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
    prefixes = ("DATABASE_URL", "REDIS_", "RATE_LIMIT", "INVALID_KEY", "ADDRESS_BLOCK", "TRUSTED_PROXIES",
                "TRACKER_ENV", "API_KEY_PEPPER", "FLASK_")
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
