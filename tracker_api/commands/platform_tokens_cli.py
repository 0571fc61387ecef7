"""`flask platform-tokens create|list|revoke`: the bot platform's credentials for the admin API (/api/admin/v1)."""
import click
from flask.cli import AppGroup

from ..access.platform_tokens import issue_token, revoke_token
from ..extensions import db
from ..models import PlatformToken
from .output import emit, json_option

platform_tokens_cli = AppGroup("platform-tokens", help="Issue, list and revoke the platform's admin API tokens.")
TOKEN_COLUMNS = ("id", "name", "prefix", "created_at", "revoked_at", "last_used_at")


def token_row(token):
    return {column: getattr(token, column) for column in TOKEN_COLUMNS}


@platform_tokens_cli.command("create")
@click.option("--name", required=True, help="Who uses it, e.g. 'bot platform backend'.")
@json_option
def create_token(name, as_json):
    """Issue a platform token and print it once."""
    token, plain = issue_token(name)
    if as_json:
        emit([{**token_row(token), "token": plain}], TOKEN_COLUMNS + ("token",), True, single=True)
        return
    click.echo(f"platform token id {token.id} ({name}):\n\n    {plain}\n")
    click.echo("Send it as 'Authorization: Bearer <token>' to /api/admin/v1. Store it now: it is not kept and cannot "
               "be shown again.")


@platform_tokens_cli.command("list")
@json_option
def list_tokens(as_json):
    """List platform tokens (display prefix only, never the token)."""
    tokens = db.session.scalars(db.select(PlatformToken).order_by(PlatformToken.id)).all()
    emit([token_row(token) for token in tokens], TOKEN_COLUMNS, as_json)


@platform_tokens_cli.command("revoke")
@click.argument("token_id", type=int)
@json_option
def revoke(token_id, as_json):
    """Revoke a platform token; the next request with it is refused."""
    token = revoke_token(token_id)
    if token is None:
        raise click.ClickException(f"platform token {token_id} does not exist")
    emit([token_row(token)], TOKEN_COLUMNS, as_json, single=True)
