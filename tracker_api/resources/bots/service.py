"""Bots: the operator's create and list, and the API's read of a key's own bot."""
from ...extensions import db
from ...models import Bot

MAX_BOT_ID = 2**31 - 1  # the column is a 32-bit integer on PostgreSQL


def get_bot(bot_id):
    # The auth hook has already matched bot_id to the key's (active) bot, so it exists.
    return db.session.get(Bot, bot_id)


def create_bot(*, name, username, bot_id=None, subscription_status="active", timezone="UTC", sandbox_of=None,
               commit=True):
    """Without an id, take the one after the highest: ids are mostly the platform's own, given explicitly,
    and a PostgreSQL sequence that never saw them would hand one out again. Without `commit` the caller commits
    (with the admin API's audit record)."""
    if bot_id is None:
        bot_id = (db.session.scalar(db.select(db.func.max(Bot.id))) or 0) + 1
        if bot_id > MAX_BOT_ID:
            raise ValueError("the bot ids after the highest one are used up: give the new bot its id")
    bot = Bot(id=bot_id, name=name, username=username, subscription_status=subscription_status, is_active=True,
              timezone=timezone, sandbox_of=sandbox_of)
    db.session.add(bot)
    if commit:
        db.session.commit()
    else:
        db.session.flush()
    return bot


def set_timezone(bot_id, timezone):
    """Give the bot another time zone (a checked IANA name); None if there is no such bot. Its statistics' days
    move with it at once: the kept totals are not by day (totals.py)."""
    bot = db.session.get(Bot, bot_id)
    if bot is not None:
        bot.timezone = timezone
        db.session.commit()
    return bot


def list_bots():
    return db.session.scalars(db.select(Bot).order_by(Bot.id)).all()
