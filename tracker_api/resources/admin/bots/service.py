"""Bots through the admin API: create, list, read, change; a bot's usage, security events and webhooks' health.
Every write is audited in its own transaction (access/admin_audit.py)."""
from datetime import datetime

from flask_smorest import abort
from sqlalchemy import func

from ....access.admin_audit import record_admin_write, snapshot
from ....access.usage import OUTCOMES, key_usage
from ....extensions import db
from ....models import ApiKey, Bot, SecurityEvent, WebhookDelivery, WebhookEndpoint
from ....web.i18n import gettext
from ...bots.service import create_bot
from ...pagination import count_rows, page_items

BOT_FIELDS = ("id", "name", "username", "is_active", "subscription_status", "timezone", "sandbox_of")


def get_bot(bot_id):
    bot = db.session.get(Bot, bot_id)
    if bot is None:
        abort(404, message=gettext("There is no bot %(bot_id)s.", bot_id=bot_id))
    return bot


def add_bot(fields):
    """A new bot; an id that is taken is a 409 naming it."""
    bot_id = fields.pop("id", None)
    if bot_id is not None and db.session.get(Bot, bot_id) is not None:
        abort(409, message=gettext("Bot %(bot_id)s already exists.", bot_id=bot_id), extra={"existing_id": bot_id})
    try:
        bot = create_bot(bot_id=bot_id, commit=False, **fields)
    except ValueError:
        abort(409, message=gettext("No id is left after the highest bot's: give the new bot its id."))
    record_admin_write("bot.create", bot.id, f"bot:{bot.id}", None, snapshot(bot, BOT_FIELDS))
    db.session.commit()
    return bot


def list_bots(page, page_size, is_active=None, subscription_status=None):
    statement = db.select(Bot)
    if is_active is not None:
        statement = statement.where(Bot.is_active == is_active)
    if subscription_status is not None:
        statement = statement.where(Bot.subscription_status == subscription_status)
    total = count_rows(statement)
    return {"bots": page_items(statement.order_by(Bot.id), page, page_size, total), "total": total}


def update_bot(bot_id, changes):
    """Change a bot; `is_active` false refuses its keys from the next request on, in every worker (the key cache's
    token is replaced when the change commits: access/key_cache.py)."""
    bot = db.session.get(Bot, bot_id, with_for_update=True)
    if bot is None:
        abort(404, message=gettext("There is no bot %(bot_id)s.", bot_id=bot_id))
    before = snapshot(bot, BOT_FIELDS)
    for field, value in changes.items():
        setattr(bot, field, value)
    record_admin_write("bot.update", bot.id, f"bot:{bot.id}", before, snapshot(bot, BOT_FIELDS))
    db.session.commit()
    return bot


def bot_usage(bot_id, days):
    """Every key's usage, and their sum per day."""
    get_bot(bot_id)
    keys = db.session.scalars(db.select(ApiKey).where(ApiKey.bot_id == bot_id).order_by(ApiKey.id)).all()
    reports = [key_usage(api_key, days) for api_key in keys]
    series = []
    for index in range(days):
        day_rows = [report["days"][index] for report in reports]
        counts = {outcome: sum(row[outcome] for row in day_rows) for outcome in OUTCOMES}
        series.append({"date": reports[0]["days"][index]["date"] if reports else None,
                       "total": sum(counts.values()), **counts})
    last_uses = [report["last_used_at"] for report in reports if report["last_used_at"] is not None]
    return {"bot_id": bot_id, "last_used_at": max(last_uses, default=None),
            "days": series if reports else [], "keys": reports}


def security_events(bot_id, page, page_size, kind=None, since: datetime | None = None,
                    until: datetime | None = None):
    get_bot(bot_id)
    statement = db.select(SecurityEvent).where(SecurityEvent.bot_id == bot_id)
    if kind is not None:
        statement = statement.where(SecurityEvent.kind == kind)
    if since is not None:
        statement = statement.where(SecurityEvent.created_at >= since)
    if until is not None:
        statement = statement.where(SecurityEvent.created_at < until)
    total = count_rows(statement)
    return {"events": page_items(statement.order_by(SecurityEvent.id.desc()), page, page_size, total),
            "total": total}


def webhooks_health(bot_id):
    """The bot's endpoints, each with its deliveries by state, last success and last failure."""
    get_bot(bot_id)
    endpoints = db.session.scalars(db.select(WebhookEndpoint).where(WebhookEndpoint.bot_id == bot_id)
                                   .order_by(WebhookEndpoint.id)).all()
    return {"webhooks": [_with_health(endpoint) for endpoint in endpoints]}


def _with_health(endpoint):
    deliveries = WebhookDelivery.endpoint_id == endpoint.id
    counts = dict(db.session.execute(db.select(WebhookDelivery.status, func.count())
                                     .where(deliveries).group_by(WebhookDelivery.status)).all())
    last_failure = db.session.execute(
        db.select(WebhookDelivery.last_attempt_at, WebhookDelivery.last_error)
        .where(deliveries, WebhookDelivery.last_error.is_not(None))
        .order_by(WebhookDelivery.last_attempt_at.desc()).limit(1)).first()
    return {**{column: getattr(endpoint, column) for column in (
                "id", "url", "event_types", "description", "enabled", "disabled_reason", "disabled_at",
                "previous_secret_expires_at", "created_at", "updated_at")},
            "deliveries": {state: counts.get(state, 0) for state in ("pending", "succeeded", "failed")},
            "last_delivered_at": db.session.scalar(db.select(func.max(WebhookDelivery.delivered_at))
                                                   .where(deliveries)),
            "last_failure_at": last_failure[0] if last_failure else None,
            "last_error": last_failure[1] if last_failure else None}
