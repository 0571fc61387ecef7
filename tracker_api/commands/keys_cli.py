"""`flask keys create|list|revoke|set-limit|usage|peppers`: API keys; the plain key is printed once, at creation."""
import json

import click
from flask.cli import AppGroup

from ..access.keys import MAX_ORIGINS, issue_key, revoke_key, set_rate_limit
from ..access.rate_limits import key_budget_per_minute
from ..access.scopes import SCOPES
from ..access.shared_store import shared_store
from ..access.usage import key_usage, last_used
from ..extensions import db
from ..access.keys import pepper_counts
from ..models import ApiKey, Bot
from .output import emit, json_option

# AppGroup: each command gets an app context, under `flask` and under app.test_cli_runner() alike.
keys_cli = AppGroup("keys", help="Issue, list and revoke API keys; set their rate limits; show their usage and "
                                  "which pepper hashed them.")
KEY_COLUMNS = ("id", "bot_id", "name", "kind", "prefix", "origins", "scopes", "rate_limit_per_minute", "created_at",
               "expires_at", "revoked_at", "last_used_at", "last_used_address")
DAY_COLUMNS = ("date", "total", "success", "client_error", "rate_limited", "server_error")
RATE_LIMIT = click.IntRange(1, 1_000_000)


def key_row(api_key):
    """A key as the operator sees it: its effective rate limit, and its last use as precisely as known."""
    row = {column: getattr(api_key, column, None) for column in KEY_COLUMNS}
    row["rate_limit_per_minute"] = key_budget_per_minute(api_key)
    row["origins"] = " ".join(api_key.origins) or None
    row["scopes"] = api_key.scopes or "all"
    row["last_used_at"], row["last_used_address"] = last_used(api_key)
    return row


def _existing_key(key_id):
    api_key = db.session.get(ApiKey, key_id)
    if api_key is None:
        raise click.ClickException(f"key {key_id} does not exist")
    return api_key


def _memory_note():
    if shared_store().kind == "memory":
        click.echo("Note: REDIS_URL is not set, so the server's counts live in its own memory and cannot be "
                   "read from here; last use is the database's (to the minute).", err=True)


@keys_cli.command("create")
@click.option("--bot-id", type=int, required=True)
@click.option("--name", required=True, help="What the key is for, e.g. 'website'.")
@click.option("--expires-in-days", type=click.IntRange(1, 3650))
@click.option("--rate-limit", type=RATE_LIMIT,
              help="Requests per minute for this key (default: RATE_LIMIT_PER_MINUTE; publishable keys: "
                   "WIDGET_RATE_LIMIT_PER_KEY).")
@click.option("--publishable", is_flag=True,
              help="A publishable key (tb_pk_...) for the tracking widget: it can only look parcels up, and only "
                   "from the web pages of its --origin(s).")
@click.option("--origin", "origins", multiple=True, metavar="ORIGIN",
              help=f"With --publishable (1 to {MAX_ORIGINS}, repeat the option): a site allowed to use the key, "
                   "e.g. https://shop.example.")
@click.option("--scope", "scopes", multiple=True, type=click.Choice(SCOPES),
              help="A right the key holds (repeat the option): read (GET), write (create, update, import), delete, "
                   "webhooks (manage webhook endpoints). Without --scope: every right.")
@json_option
def create_key(bot_id, name, expires_in_days, rate_limit, publishable, origins, scopes, as_json):
    """Issue a key for a bot and print it once (a secret key, or with --publishable the widget's)."""
    if db.session.get(Bot, bot_id) is None:
        raise click.ClickException(f"bot {bot_id} does not exist")
    if publishable != bool(origins):
        raise click.UsageError("--publishable needs at least one --origin, and --origin needs --publishable")
    try:
        api_key, plain_key = issue_key(bot_id, name, expires_in_days, rate_limit,
                                       origins=origins if publishable else None, scopes=scopes or None)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--origin") from None
    if as_json:
        emit([{**key_row(api_key), "key": plain_key}], KEY_COLUMNS + ("key",), True, single=True)
        return
    click.echo(f"{api_key.kind} key id {api_key.id} for bot {bot_id} ({name}):\n\n    {plain_key}\n")
    if api_key.is_publishable:
        click.echo(f"For the tracking widget on: {', '.join(api_key.origins)}. It may appear in web pages; it is "
                   "not kept here and cannot be shown again.")
        return
    click.echo("Store it now: it is not kept and cannot be shown again.")


@keys_cli.command("list")
@click.option("--bot-id", type=int, required=True)
@json_option
def list_keys(bot_id, as_json):
    """List a bot's keys (display prefix only, never the key)."""
    keys = db.session.scalars(db.select(ApiKey).where(ApiKey.bot_id == bot_id).order_by(ApiKey.id)).all()
    emit([key_row(api_key) for api_key in keys], KEY_COLUMNS, as_json)


@keys_cli.command("revoke")
@click.argument("key_id", type=int)
@json_option
def revoke(key_id, as_json):
    """Revoke a key; the next request with it is refused."""
    api_key = revoke_key(key_id)
    if api_key is None:
        raise click.ClickException(f"key {key_id} does not exist")
    emit([key_row(api_key)], KEY_COLUMNS, as_json, single=True)


@keys_cli.command("set-limit")
@click.argument("key_id", type=int)
@click.argument("per_minute", type=RATE_LIMIT, required=False)
@click.option("--default", "use_default", is_flag=True, help="Go back to the default (RATE_LIMIT_PER_MINUTE).")
@json_option
def set_limit(key_id, per_minute, use_default, as_json):
    """Set a key's rate limit in requests per minute (or --default); the next request uses it."""
    if (per_minute is None) == (not use_default):
        raise click.UsageError("give either PER_MINUTE or --default")
    _existing_key(key_id)
    api_key = set_rate_limit(key_id, None if use_default else per_minute)
    emit([key_row(api_key)], KEY_COLUMNS, as_json, single=True)


@keys_cli.command("usage")
@click.argument("key_id", type=int)
@click.option("--days", type=click.IntRange(1, 90), default=7, show_default=True)
@json_option
def usage(key_id, days, as_json):
    """A key's requests per day by outcome, its last use (time and address) and its rate limit."""
    report = key_usage(_existing_key(key_id), days)
    if as_json:
        click.echo(json.dumps(report, default=lambda value: value.isoformat()))
        return
    _memory_note()
    click.echo(f"key {report['key_id']} ({report['prefix']}..., {report['name']}) of bot {report['bot_id']}: "
               f"{report['rate_limit_per_minute']} requests per minute")
    where = f" from {report['last_used_address']}" if report["last_used_address"] else ""
    click.echo(f"last used: {report['last_used_at'] or 'never'}{where}\n")
    emit(report["days"], DAY_COLUMNS, False)


PEPPER_COLUMNS = ("pepper", "fingerprint", "keys", "note")


def _pepper_note(position, fingerprint):
    if position == 1:
        return "newest: issues and re-hashes keys"
    if position is not None:
        return "older: keys still on it are re-hashed on their next use"
    if fingerprint is not None:
        return "no longer configured: these keys are refused"
    return "not recorded (not used since the upgrade that records it)"


@keys_cli.command("peppers")
@json_option
def peppers_report(as_json):
    """How many keys each pepper of API_KEY_PEPPERS (1 = newest) hashed, by position and fingerprint (never the
    pepper): an older pepper can be removed once no key uses it."""
    rows = [{"pepper": position, "fingerprint": fingerprint, "keys": count,
             "note": _pepper_note(position, fingerprint)} for position, fingerprint, count in pepper_counts()]
    emit(rows, PEPPER_COLUMNS, as_json)
