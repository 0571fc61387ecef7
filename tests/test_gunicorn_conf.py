"""docker/gunicorn.conf.py as gunicorn reads it: defaults for a DB-bound API, every setting overridable from the
environment, and X-Forwarded-Proto trusted exactly when the app trusts a proxy (TRUSTED_PROXIES)."""
import os
import runpy

import pytest
from gunicorn.config import Config

from servers import GUNICORN_CONF


@pytest.fixture
def load_settings(monkeypatch, tmp_path):
    """Read the file the way gunicorn does (run it, keep the names that are settings) under a given environment."""
    def load(**environment):
        for name in os.environ:
            if name.startswith(("GUNICORN_", "TRUSTED_PROXIES", "FORWARDED_ALLOW_IPS")):
                monkeypatch.delenv(name)
        monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
        for name, value in environment.items():
            monkeypatch.setenv(name, str(value))
        config = Config()
        for name, value in runpy.run_path(str(GUNICORN_CONF)).items():
            if name in config.settings:
                config.set(name, value)
        return config
    return load


def test_defaults_are_threaded_workers_with_graceful_restarts_and_no_access_log(load_settings):
    config = load_settings()
    assert (config.worker_class_str, config.threads, config.workers) == ("gthread", 4, 2 * len(os.sched_getaffinity(0)))
    assert (config.timeout, config.graceful_timeout, config.keepalive) == (30, 30, 75)
    assert (config.max_requests, config.max_requests_jitter) == (50_000, 5_000)
    assert config.accesslog is None and config.errorlog == "-"
    assert config.settings["child_exit"].get().__module__ != "gunicorn.config"  # the metrics clean-up is hooked


def test_every_setting_can_be_changed_from_the_environment(load_settings):
    config = load_settings(GUNICORN_WORKERS=5, GUNICORN_THREADS=1, GUNICORN_WORKER_CLASS="sync",
                           GUNICORN_BIND="127.0.0.1:9000", GUNICORN_TIMEOUT=60, GUNICORN_MAX_REQUESTS=0)
    assert (config.workers, config.threads, config.worker_class_str) == (5, 1, "sync")
    assert (config.address, config.timeout, config.max_requests) == ([("127.0.0.1", 9000)], 60, 0)


@pytest.mark.parametrize("trusted_proxies,allowed", [("0", []), ("1", ["*"])])
def test_forwarded_headers_are_trusted_only_behind_a_proxy(load_settings, trusted_proxies, allowed):
    assert load_settings(TRUSTED_PROXIES=trusted_proxies).forwarded_allow_ips == allowed
