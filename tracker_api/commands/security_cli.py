"""`flask security events|unblock`: what the audit trail flagged, and lifting an address block."""
import click
from flask.cli import AppGroup

from ..access.security_events import list_security_events, unblock_address
from ..access.shared_store import shared_store
from ..models import SECURITY_EVENT_KINDS
from .output import emit, json_option

security_cli = AppGroup("security", help="Security events (invalid-key bursts, keys probing other bots, ...).")
EVENT_COLUMNS = ("id", "created_at", "kind", "client_address", "key_id", "bot_id", "request_id", "detail")


@security_cli.command("events")
@click.option("--kind", type=click.Choice(SECURITY_EVENT_KINDS), help="Only events of this kind.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
@json_option
def events(kind, limit, as_json):
    """List security events, newest first."""
    rows = [{column: getattr(event, column) for column in EVENT_COLUMNS}
            for event in list_security_events(kind, limit)]
    emit(rows, EVENT_COLUMNS, as_json)


@security_cli.command("unblock")
@click.argument("address")
def unblock(address):
    """Lift the block on an address now (blocks otherwise end by themselves)."""
    if shared_store().kind == "memory":
        raise click.ClickException("REDIS_URL is not set: blocks live in the server's own memory and end "
                                   "by themselves (ADDRESS_BLOCK_MINUTES) or when it restarts")
    click.echo(f"{address}: {'unblocked' if unblock_address(address) else 'was not blocked'}")
