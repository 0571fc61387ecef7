"""Liveness and readiness for load balancers and orchestrators; no key needed.

/readyz is 503 only when the database fails: without it no request can be answered. A Redis outage makes
it 200 with `"status": "degraded"` and says why in `redis`: every instance shares that Redis, so taking
them all out of the balancer would turn a degraded service (limits per worker, see access/shared_store.py) into
no service at all.
"""
from flask import Blueprint
from sqlalchemy import text

from ..access.shared_store import shared_store
from ..extensions import db

blp = Blueprint("health", __name__)


@blp.get("/healthz")
def healthz():
    """The process is up and serving."""
    return {"status": "ok"}


@blp.get("/readyz")
def readyz():
    """The database answers (else 503); Redis is reported, and its absence only degrades."""
    try:
        db.session.execute(text("SELECT 1"))
        database = "ok"
    except Exception as error:  # any failure means not ready; the reason goes in the body
        db.session.rollback()
        database = f"unavailable: {type(error).__name__}"
    store = shared_store()
    redis = store.check()
    if database != "ok":
        status = "unavailable"
    elif store.kind == "redis" and redis != "ok":
        status = "degraded"
    else:
        status = "ok"
    return {"status": status, "database": database, "redis": redis}, 503 if status == "unavailable" else 200
