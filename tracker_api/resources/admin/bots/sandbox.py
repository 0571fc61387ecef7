"""Sandbox bots: a live bot's twin with the demo data (resources/demo_data.py), its own keys and webhooks, where an
integrator develops before swapping in the live bot's id and key; reset to exactly the demo data on request."""
from flask_smorest import abort
from sqlalchemy import delete

from ....access.admin_audit import record_admin_write, snapshot
from ....extensions import db
from ....models import Bot, Client, DeletedRecord, StatusEvent, TrackingNumber, WebhookDelivery, WebhookEvent
from ....web.i18n import gettext
from ....writes import totals
from ....writes.change_numbers import next_change_seqs
from ...bots.service import create_bot
from ...demo_data import seed_demo_data
from .service import BOT_FIELDS, get_bot

# Children first: what the reset empties, in an order no foreign key minds.
SANDBOX_DATA = (StatusEvent, TrackingNumber, Client, DeletedRecord, WebhookEvent)


def sandbox_of(live_bot_id):
    return db.session.scalar(db.select(Bot).where(Bot.sandbox_of == live_bot_id))


def find_sandbox(live_bot_id):
    get_bot(live_bot_id)
    sandbox = sandbox_of(live_bot_id)
    if sandbox is None:
        abort(404, message=gettext("Bot %(bot_id)s has no sandbox: create it with POST.", bot_id=live_bot_id))
    return sandbox


def create_sandbox(live_bot_id):
    """The live bot's sandbox, with the demo data; a second one is a 409 naming the first."""
    live = get_bot(live_bot_id)
    if live.is_sandbox:
        abort(409, message=gettext("Bot %(bot_id)s is itself a sandbox.", bot_id=live_bot_id))
    existing = sandbox_of(live_bot_id)
    if existing is not None:
        abort(409, message=gettext("Bot %(bot_id)s already has sandbox %(sandbox_id)s.", bot_id=live_bot_id,
                                   sandbox_id=existing.id), extra={"existing_id": existing.id})
    sandbox = create_bot(name=f"{live.name} (sandbox)"[:200], username=live.username, timezone=live.timezone,
                         subscription_status=live.subscription_status, sandbox_of=live.id, commit=False)
    record_admin_write("sandbox.create", live.id, f"bot:{sandbox.id}", None, snapshot(sandbox, BOT_FIELDS))
    seed_demo_data(sandbox.id)  # commits the bot, its audit record and the data
    return sandbox


def reset_sandbox(live_bot_id):
    """Empty the sandbox's clients, parcels, history, tombstones and webhook events (its keys and webhook endpoints
    stay) in one transaction, then seed the demo data again (the parcels' writes commit one by one, as the API's
    do). Only the sandbox's rows are touched. Its change numbers go on from where they were."""
    sandbox = find_sandbox(live_bot_id)
    next_change_seqs(sandbox.id, 0)  # the bot's change lock: its other writes wait for the emptying
    events = db.select(WebhookEvent.id).where(WebhookEvent.bot_id == sandbox.id)
    db.session.execute(delete(WebhookDelivery).where(WebhookDelivery.event_row_id.in_(events)))
    for model in SANDBOX_DATA:
        db.session.execute(delete(model).where(model.bot_id == sandbox.id))
    totals.recount(db.session.connection(), sandbox.id)  # the bulk deletes bypassed the totals' listener
    record_admin_write("sandbox.reset", live_bot_id, f"bot:{sandbox.id}", None, None)
    db.session.commit()
    seed_demo_data(sandbox.id)
    return sandbox
