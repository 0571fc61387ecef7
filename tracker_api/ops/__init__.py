"""What the operator watches: the request log, Prometheus metrics, liveness and readiness."""
