"""Page-number pagination with the total, as the product document's list shapes require. Totals come from the
caller (tracker_api/writes/totals.py keeps them, so they cost no scan); a page past the last costs no query."""
from sqlalchemy import func, select, tuple_

from ..extensions import db

LARGEST_ID = 2**63 - 1


def newest_first_bound(model, bot_id, largest_id=LARGEST_ID):
    """`(bot_id, id) <= (bot_id, largest_id)`: the condition that makes PostgreSQL read a bot's rows newest first
    through the (bot_id, id) index. Without it the planner may walk the primary key backwards and filter by bot,
    guessing that the bot's rows are spread evenly: for a big, old bot that means reading every newer bot's
    rows first (a million of them: 150 ms instead of 0.1 ms for page 1)."""
    return tuple_(model.bot_id, model.id) <= tuple_(bot_id, largest_id)  # bot_id may be a bindparam


def count_rows(statement):
    """count(*) of a SELECT: for filters that have no kept total (a client's parcels: an index range)."""
    return db.session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))


def page_items(statement, page, page_size, total, *, rows=False):
    """One page of a SELECT, in the order the caller set: ORM objects, or with `rows` the rows of a SELECT of
    columns (read by attribute like objects, without the cost of building them)."""
    offset = (page - 1) * page_size
    if offset >= total:
        return []
    result = db.session.execute(statement.limit(page_size).offset(offset))
    return result.all() if rows else result.scalars().all()
