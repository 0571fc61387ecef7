"""Security headers on every response, so that a browser never sniffs, frames, caches or renders API data.

The API's JSON gets `default-src 'none'`: nothing a client stored (a note with a <script>) can ever run. The
HTML pages, Swagger UI and ReDoc, get what they need from this origin and nothing else: their own assets,
`fetch` to this API ("Try it out"), inline styles (ReDoc's styled-components inject <style> elements), images
and fonts as data: URIs, ReDoc's search worker from a blob: URL, and the page's own inline script allowed by
its SHA-256, computed from the page as served, so a change in flask-smorest's template cannot go stale here.
A view that chose its own caching (the docs assets, a day) keeps it; everything else is `no-store`.
"""
import base64
import hashlib
import re

COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
LOCKDOWN = "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
API_POLICY = f"default-src 'none'; {LOCKDOWN}"
DOCS_POLICY = ("default-src 'none'; script-src {script_sources}; style-src 'self' 'unsafe-inline'; "
               "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
               f"{LOCKDOWN}")
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script>", re.DOTALL | re.IGNORECASE)


def script_sources(html):
    """'self' and the hash of each inline script of an HTML page."""
    digests = (hashlib.sha256(script.encode()).digest() for script in INLINE_SCRIPT.findall(html))
    return " ".join(["'self'", *(f"'sha256-{base64.b64encode(digest).decode()}'" for digest in digests)])


def content_security_policy(response):
    is_page = response.mimetype == "text/html" and not response.direct_passthrough
    html = response.get_data(as_text=True) if is_page else ""
    return DOCS_POLICY.format(script_sources=script_sources(html)) if html else API_POLICY


def add_security_headers(response):
    response.headers.update(COMMON_HEADERS)
    response.headers["Content-Security-Policy"] = content_security_policy(response)
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def register_security_headers(app):
    app.after_request(add_security_headers)
