"""The session class of `db.session`: Flask-SQLAlchemy's, with the request's SELECTs sent to a read replica when
replicas.py chose one for the request (SQLAlchemy's documented way: a Session subclass overriding get_bind)."""
from flask_sqlalchemy.session import Session


class RoutingSession(Session):
    """`read_bind`, when set, takes every SELECT; everything else (flushes, DML, text(), `connection()`) stays on
    the binds Flask-SQLAlchemy picks, the primary. Unset, as in every deployment without replicas, it costs one
    attribute test per statement."""

    read_bind = None

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        if self.read_bind is not None and bind is None and getattr(clause, "is_select", False):
            return self.read_bind
        return super().get_bind(mapper, clause, bind, **kwargs)
