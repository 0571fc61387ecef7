"""`flask totals check|recount`: the kept totals (tracker_api/writes/totals.py) against a fresh count of the rows."""
from decimal import Decimal

import click
from flask.cli import AppGroup

from ..database import lift_statement_timeout
from ..extensions import db
from ..writes import totals

totals_cli = AppGroup("totals", help="Check or recount the totals kept per bot (lists, statistics, deep pages).")
bot_option = click.option("--bot-id", type=click.IntRange(1, 2**31 - 1), help="Only this bot (default: all).")


@totals_cli.command("check")
@bot_option
def check(bot_id):
    """Count the rows afresh and compare; exits 1, listing each difference, if the totals are off."""
    with db.engine.begin() as connection:
        lift_statement_timeout(connection)
        found = totals.differences(connection, bot_id)
    for table, key, stored, counted in found:
        click.echo(f"{table} {', '.join(map(str, key))}: kept {_numbers(stored)}, counted {_numbers(counted)}")
    if found:
        raise SystemExit(1)
    click.echo("totals match the rows")


def _numbers(measures):
    if measures is None:
        return "nothing"
    return " / ".join(str(value.normalize() if isinstance(value, Decimal) else value) for value in measures)


@totals_cli.command("recount")
@bot_option
def recount(bot_id):
    """Replace the totals with a fresh count: after rows were written by hand in SQL, bypassing the app. Run it
    while the bot's rows are not being written (a write that commits meanwhile is counted or not)."""
    with db.engine.begin() as connection:
        lift_statement_timeout(connection)
        totals.recount(connection, bot_id)
    click.echo(f"totals recounted from the rows of {f'bot {bot_id}' if bot_id else 'every bot'}")
