"""What the operator watches: the request log, Prometheus metrics, liveness and readiness."""
from .metrics import register_metrics
from .request_log import register_request_log


def register_observability(app):
    """The request log and the metrics, each reading the request's Caller once the answer is ready."""
    register_request_log(app)
    register_metrics(app)
