"""`flask purge-deleted`: the end of the restore window (tracker_api/writes/restore.py)."""
import click
from flask import current_app
from flask.cli import with_appcontext

from ..writes import restore


@click.command("purge-deleted")
@with_appcontext
def purge_deleted_command():
    """Erase for good the tracking numbers and clients deleted longer ago than RESTORE_WINDOW_DAYS (their data
    and history; the change feed keeps only their id and code). Run it daily, e.g. from cron."""
    purged = restore.purge_expired()
    days = current_app.config["RESTORE_WINDOW_DAYS"]
    click.echo(f"purged {purged} deleted records older than {days} days")
