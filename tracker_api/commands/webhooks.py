"""`flask webhooks worker`: the process that sends webhook deliveries (tracker_api/webhooks/delivery.py)."""
import signal

import click
from flask.cli import AppGroup

from ..webhooks.delivery import run_worker

webhooks_cli = AppGroup("webhooks", help="Send webhook deliveries.")


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
