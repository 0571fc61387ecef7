"""Prometheus metrics at /metrics: requests and latency by route, method and status; rate-limit refusals;
authentication failures by reason.

Under gunicorn every worker is a process of its own. docker/gunicorn.conf.py sets PROMETHEUS_MULTIPROC_DIR,
where prometheus_client keeps each process's values in files; a scrape adds them all up, so whichever worker
answers reports the whole server, and the counts of a worker that was replaced stay in the sum. Without that
variable (`make run`'s single worker, in-process tests) the app's own registry answers.

The route label is the URL rule as the OpenAPI document writes it (`/api/v1/tracking/{bot_id}`), never the
raw path, and the method label knows only real methods, so probing invented paths cannot grow the series
without bound. Why a request was refused is the Caller's verdict (access/caller.py), as the request log's.

/metrics needs no key (only /api/v* does); docker/nginx.conf keeps it off the public side.
"""
import logging
import os
from dataclasses import dataclass

from flask import Blueprint, Response, current_app, request
from flask_smorest.spec.plugins import FlaskPlugin
from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess
from prometheus_client.exposition import choose_encoder

from ..access.caller import current_caller

log = logging.getLogger(__name__)
blp = Blueprint("metrics", __name__)

MULTIPROCESS_DIRECTORY = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
REQUEST_LABELS = ("route", "method", "status")
KNOWN_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


@dataclass(frozen=True)
class Metrics:
    registry: CollectorRegistry | None  # None in multiprocess mode: a scrape reads every process's files
    requests: Counter
    latency: Histogram
    rate_limit_rejections: Counter
    auth_failures: Counter


def build_metrics():
    """The app's metrics; in multiprocess mode registered nowhere, since the files are what gets scraped."""
    registry = None if os.environ.get(MULTIPROCESS_DIRECTORY) else CollectorRegistry()
    return Metrics(
        registry=registry,
        requests=Counter("tracker_api_http_requests", "HTTP requests answered.", REQUEST_LABELS,
                         registry=registry),
        latency=Histogram("tracker_api_http_request_duration_seconds", "Time from the first hook to the response.",
                          REQUEST_LABELS, buckets=LATENCY_BUCKETS, registry=registry),
        rate_limit_rejections=Counter(
            "tracker_api_rate_limit_rejections", "429s: a spent per-key or per-address budget, or a blocked address.",
            ("limit",), registry=registry),
        auth_failures=Counter("tracker_api_auth_failures", "API requests refused by authentication or bot scoping.",
                              ("reason",), registry=registry),
    )


def _request_labels(response):
    rule = request.url_rule
    route = FlaskPlugin.flaskpath2openapi(rule.rule) if rule is not None else "unrouted"
    method = request.method if request.method in KNOWN_METHODS else "other"
    return route, method, str(response.status_code)


def _count_refusal(metrics, caller):
    """A 429 counts against the budget that was spent; any other refusal is an authentication failure."""
    reason = caller.refusal
    if reason == "rate-limited":
        metrics.rate_limit_rejections.labels(caller.rate_window.policy).inc()
    elif reason == "address-blocked":
        metrics.rate_limit_rejections.labels(reason).inc()
    elif reason is not None:
        metrics.auth_failures.labels(reason).inc()


def record_request(response):
    metrics = current_app.extensions["metrics"]
    try:
        labels = _request_labels(response)
        metrics.requests.labels(*labels).inc()
        caller = current_caller()
        if caller.elapsed_seconds is not None:
            metrics.latency.labels(*labels).observe(caller.elapsed_seconds)
        _count_refusal(metrics, caller)
    except Exception:  # a metric lost is no reason to fail the client's request
        log.exception("metrics failed for %s %s", request.method, request.path)
    return response


def scrape_registry():
    registry = current_app.extensions["metrics"].registry
    if registry is None:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    return registry


@blp.get("/metrics")
def scrape():
    """Prometheus text format, or OpenMetrics when the scraper asks for it."""
    encode, content_type = choose_encoder(request.headers.get("Accept"))
    return Response(encode(scrape_registry()), content_type=content_type)


def register_metrics(app):
    app.extensions["metrics"] = build_metrics()
    app.after_request(record_request)
    app.register_blueprint(blp)
