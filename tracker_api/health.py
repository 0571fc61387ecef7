"""Liveness and readiness for load balancers and orchestrators; no key needed."""
from flask import Blueprint
from sqlalchemy import text

from .extensions import db

blp = Blueprint("health", __name__)


@blp.get("/healthz")
def healthz():
    """The process is up and serving."""
    return {"status": "ok"}


@blp.get("/readyz")
def readyz():
    """The database answers; 503 otherwise, so a balancer stops sending traffic here."""
    try:
        db.session.execute(text("SELECT 1"))
        database = "ok"
    except Exception as error:  # any failure means not ready; the reason goes in the body
        db.session.rollback()
        database = f"unavailable: {type(error).__name__}"
    ready = database == "ok"
    return {"status": "ok" if ready else "unavailable", "database": database}, 200 if ready else 503
