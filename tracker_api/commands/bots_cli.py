"""`flask bots create|list|set-timezone`: the tenants."""
import click
from flask.cli import AppGroup
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import SUBSCRIPTION_STATUSES
from ..resources.bots import service
from ..serialization.timezones import is_time_zone, unknown_zone_message
from .output import emit, json_option

# AppGroup: each command gets an app context, under `flask` and under app.test_cli_runner() alike.
bots_cli = AppGroup("bots", help="Create and list bots (tenants); set a bot's time zone.")
BOT_COLUMNS = ("id", "name", "username", "is_active", "subscription_status", "timezone")


def _time_zone(context, parameter, value):
    if value is not None and not is_time_zone(value):
        raise click.BadParameter(unknown_zone_message(value))
    return value


def bot_row(bot):
    return {column: getattr(bot, column) for column in BOT_COLUMNS}


@bots_cli.command("create")
@click.option("--id", "bot_id", type=click.IntRange(1, 2**31 - 1), help="Bot id (the platform's); default: next.")
@click.option("--name", required=True)
@click.option("--username", required=True, help="Telegram username, e.g. @company_bot")
@click.option("--subscription-status", type=click.Choice(SUBSCRIPTION_STATUSES), default="active")
@click.option("--timezone", default="UTC", show_default=True, callback=_time_zone,
              help="IANA time zone of the company (Asia/Almaty): the days of its statistics.")
@json_option
def create_bot(bot_id, name, username, subscription_status, timezone, as_json):
    """Create a bot."""
    try:
        bot = service.create_bot(bot_id=bot_id, name=name, username=username,
                                 subscription_status=subscription_status, timezone=timezone)
    except IntegrityError:
        db.session.rollback()
        raise click.ClickException(f"bot {bot_id} already exists") from None
    emit([bot_row(bot)], BOT_COLUMNS, as_json, single=True)


@bots_cli.command("list")
@json_option
def list_bots(as_json):
    """List bots."""
    emit([bot_row(bot) for bot in service.list_bots()], BOT_COLUMNS, as_json)


@bots_cli.command("set-timezone")
@click.argument("bot_id", type=click.IntRange(1, 2**31 - 1))
@click.argument("timezone", callback=_time_zone)
@json_option
def set_timezone(bot_id, timezone, as_json):
    """Set a bot's IANA time zone (Asia/Almaty, Europe/Moscow, UTC): its statistics count that zone's days."""
    bot = service.set_timezone(bot_id, timezone)
    if bot is None:
        raise click.ClickException(f"bot {bot_id} does not exist")
    emit([bot_row(bot)], BOT_COLUMNS, as_json, single=True)
