"""Page-number pagination with the total, as the product document's list shapes require."""
from sqlalchemy import func, select

from .extensions import db


def paginate(statement, page, page_size):
    """(items, total) for one page of a SELECT of ORM rows, newest-first order set by the caller."""
    total = db.session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    items = db.session.scalars(statement.limit(page_size).offset((page - 1) * page_size)).all()
    return items, total
