"""A bot's keys through the admin API: issue, list, read, change, revoke, roll. Each write is audited with it."""
from datetime import timedelta

from flask_smorest import abort

from ....access.admin_audit import record_admin_write, snapshot
from ....access.keys import issue_key, normalize_origin
from ....access.scopes import parse_scopes
from ....extensions import db
from ....models import ApiKey, Bot
from ....models.types import utcnow
from ....web.i18n import N_, gettext
from ...pagination import count_rows, page_items

KEY_FIELDS = ("id", "bot_id", "name", "kind", "prefix", "scopes", "origins", "rate_limit_per_minute", "expires_at",
              "revoked_at")


def _bot(bot_id):
    if db.session.get(Bot, bot_id) is None:
        abort(404, message=gettext("There is no bot %(bot_id)s.", bot_id=bot_id))


def get_key(bot_id, key_id, *, for_update=False):
    # FOR UPDATE OF api_keys: the bot is joined eagerly, and PostgreSQL locks no outer-joined side.
    api_key = db.session.get(ApiKey, key_id, with_for_update={"of": ApiKey} if for_update else None)
    if api_key is None or api_key.bot_id != bot_id:
        abort(404, message=gettext("Bot %(bot_id)s has no key %(key_id)s.", bot_id=bot_id, key_id=key_id))
    return api_key


def _issued(api_key, plain_key):
    return {**{field: getattr(api_key, field) for field in (
        "id", "bot_id", "name", "kind", "prefix", "scope_names", "origins", "rate_limit_per_minute", "created_at",
        "expires_at", "revoked_at", "last_used_at")}, "key": plain_key}


def add_key(bot_id, fields):
    _bot(bot_id)
    try:
        api_key, plain_key = issue_key(bot_id, fields["name"], rate_limit_per_minute=fields.get(
            "rate_limit_per_minute"), origins=fields.get("origins") if fields["publishable"] else None,
            scopes=fields.get("scopes"), expires_at=fields.get("expires_at"), commit=False)
    except ValueError as error:
        abort(422, messages={"json": {"origins": [str(error)]}})
    record_admin_write("key.create", bot_id, f"key:{api_key.id}", None, snapshot(api_key, KEY_FIELDS))
    db.session.commit()
    return _issued(api_key, plain_key)


def list_keys(bot_id, page, page_size, include_revoked=True):
    _bot(bot_id)
    statement = db.select(ApiKey).where(ApiKey.bot_id == bot_id)
    if not include_revoked:
        statement = statement.where(ApiKey.revoked_at.is_(None))
    total = count_rows(statement)
    return {"keys": page_items(statement.order_by(ApiKey.id), page, page_size, total), "total": total}


def update_key(bot_id, key_id, changes):
    api_key = get_key(bot_id, key_id, for_update=True)
    before = snapshot(api_key, KEY_FIELDS)
    if "origins" in changes:
        if not api_key.is_publishable:
            abort(422, messages={"json": {"origins": [N_("Only a publishable key has origins.")]}})
        try:
            api_key.allowed_origins = "\n".join(dict.fromkeys(normalize_origin(o) for o in changes["origins"]))
        except ValueError as error:
            abort(422, messages={"json": {"origins": [str(error)]}})
    if "scopes" in changes:
        api_key.scopes = parse_scopes(changes["scopes"])
    for field in ("name", "rate_limit_per_minute"):
        if field in changes:
            setattr(api_key, field, changes[field])
    record_admin_write("key.update", bot_id, f"key:{key_id}", before, snapshot(api_key, KEY_FIELDS))
    db.session.commit()
    return api_key


def revoke(bot_id, key_id):
    """Revoke a key: refused from the next request on, in every worker. Revoking twice keeps the first time."""
    api_key = get_key(bot_id, key_id, for_update=True)
    if api_key.revoked_at is None:
        before = snapshot(api_key, KEY_FIELDS)
        api_key.revoked_at = utcnow()
        record_admin_write("key.revoke", bot_id, f"key:{key_id}", before, snapshot(api_key, KEY_FIELDS))
        db.session.commit()
    return api_key


def roll(bot_id, key_id, grace_period_seconds):
    """A new key like the old one (name, kind, scopes, origins, rate limit, expiry), and the old one usable for the
    grace period only, as Stripe's roll does: the integration swaps keys without a moment of refusals."""
    old = get_key(bot_id, key_id, for_update=True)
    if not old.is_usable_at(utcnow()):
        abort(409, message=gettext("This key is revoked or expired: issue a new key instead of rolling it."))
    before = snapshot(old, KEY_FIELDS)
    new, plain_key = issue_key(bot_id, old.name, rate_limit_per_minute=old.rate_limit_per_minute,
                               origins=old.origins if old.is_publishable else None, scopes=old.scope_names,
                               expires_at=old.expires_at, commit=False)
    grace_ends = utcnow() + timedelta(seconds=grace_period_seconds)
    old.expires_at = grace_ends if old.expires_at is None else min(old.expires_at, grace_ends)
    record_admin_write("key.roll", bot_id, f"key:{key_id}", before,
                       {**snapshot(old, KEY_FIELDS), "rolled_to": new.id})
    db.session.commit()
    return {"key": _issued(new, plain_key), "previous": old}
