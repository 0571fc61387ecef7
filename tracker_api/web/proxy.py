"""The client's address: the socket's peer, or what the configured number of trusted proxies vouch for.

A proxy appends the address it saw to X-Forwarded-For, after whatever a client wrote there itself (our
docker/nginx.conf goes further and sends only the address it saw). With TRUSTED_PROXIES=N werkzeug's ProxyFix
takes the N-th value from the right, so a forged header changes nothing; with 0 (no proxy in front) the header
is ignored altogether.
"""
from flask import request
from werkzeug.middleware.proxy_fix import ProxyFix


def register_proxy_fix(app):
    hops = app.config["TRUSTED_PROXIES"]
    if hops < 0:
        raise RuntimeError(f"TRUSTED_PROXIES must be 0 or more, not {hops}")
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)


def client_address():
    """The address the rate limits, blocks, usage and the request log use for this request."""
    return request.remote_addr or "unknown"
