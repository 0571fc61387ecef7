"""`flask keys create|list|revoke`: API keys; the plain key is printed once, at creation."""
import click

from ..extensions import db
from ..keys import issue_key, revoke_key
from ..models import ApiKey, Bot
from .output import emit, json_option

keys_cli = click.Group("keys", help="Issue, list and revoke API keys.")
KEY_COLUMNS = ("id", "bot_id", "name", "prefix", "created_at", "expires_at", "revoked_at", "last_used_at")


def key_row(api_key):
    return {column: getattr(api_key, column) for column in KEY_COLUMNS}


@keys_cli.command("create")
@click.option("--bot-id", type=int, required=True)
@click.option("--name", required=True, help="What the key is for, e.g. 'website'.")
@click.option("--expires-in-days", type=click.IntRange(1, 3650))
@json_option
def create_key(bot_id, name, expires_in_days, as_json):
    """Issue a key for a bot and print it once."""
    if db.session.get(Bot, bot_id) is None:
        raise click.ClickException(f"bot {bot_id} does not exist")
    api_key, plain_key = issue_key(bot_id, name, expires_in_days)
    if as_json:
        emit([{**key_row(api_key), "key": plain_key}], KEY_COLUMNS + ("key",), True, single=True)
        return
    click.echo(f"key id {api_key.id} for bot {bot_id} ({name}):\n\n    {plain_key}\n")
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
