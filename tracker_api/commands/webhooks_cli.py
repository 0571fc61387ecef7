"""`flask webhooks worker|prune|reencrypt-secrets`: the process that sends webhook deliveries
(tracker_api/webhooks/delivery.py), the delivery log's retention, and the signing secrets' encryption key rotation."""
import signal
from datetime import timedelta

import click
from flask.cli import AppGroup

from ..extensions import db
from ..models.types import utcnow
from ..webhooks.delivery import prune, run_worker
from ..webhooks.signing import reencrypt_secrets

webhooks_cli = AppGroup("webhooks", help="Send webhook deliveries; prune the delivery log; re-encrypt secrets.")


@webhooks_cli.command("worker")
@click.option("--once", is_flag=True, help="Send what is due now, then exit (tests, cron).")
def worker(once):
    """Claim and send due deliveries until SIGTERM/SIGINT; run as many as you like on PostgreSQL (one on SQLite).
    A stop finishes the delivery in flight first."""
    stopping = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.append(True))
    click.echo("webhooks worker started" + (" (once)" if once else ""))
    run_worker(once=once, should_stop=lambda: bool(stopping))
    click.echo("webhooks worker stopped")


@webhooks_cli.command("prune")
@click.option("--days", type=click.IntRange(1, 3650), default=30, show_default=True,
              help="Keep deliveries (and their events) created in the last this many days.")
def prune_command(days):
    """Delete finished deliveries older than --days and the events left without one (run it daily, e.g. from
    cron); pending deliveries are kept whatever their age."""
    deliveries, events = prune(utcnow() - timedelta(days=days))
    click.echo(f"pruned {deliveries} deliveries and {events} events older than {days} days")


@webhooks_cli.command("reencrypt-secrets")
def reencrypt_secrets_command():
    """Encrypt every webhook signing secret with the newest key of WEBHOOK_SECRET_KEYS (previous secrets past their
    grace period are dropped). Rotation: put a new key first, restart the app and the workers, run this, then
    remove the old key."""
    rewritten = reencrypt_secrets(db.session, utcnow())
    click.echo(f"re-encrypted the secrets of {rewritten} webhook endpoints with the newest key")
