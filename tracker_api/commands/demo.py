"""`flask demo`: a demo bot with realistic clients and parcels, and a fresh key to try them with."""
import json

import click
from flask.cli import with_appcontext

from ..access.keys import issue_key
from ..extensions import db
from ..models import Bot
from ..resources.bots.service import create_bot
from ..resources.demo_data import DEMO_BOT_ID, seed_demo_data
from .output import json_option


@click.command("demo")
@click.option("--port", default=8000, show_default=True, help="Port used in the printed curl command.")
@json_option
@with_appcontext  # as AppGroup commands have: an app context under app.test_cli_runner() too
def demo_command(port, as_json):
    """Create (once) the demo bot with sample data, and print a new key for it."""
    bot = db.session.get(Bot, DEMO_BOT_ID) or create_bot(bot_id=DEMO_BOT_ID, name="Demo Cargo",
                                                         username="@demo_cargo_bot")
    seed_demo_data(bot.id)
    api_key, plain_key = issue_key(bot.id, "demo")
    base_url = f"http://127.0.0.1:{port}"
    curl = f'curl -H "X-API-Key: {plain_key}" {base_url}/api/v1/tracking/{bot.id}'
    if as_json:
        click.echo(json.dumps({"bot_id": bot.id, "key_id": api_key.id, "key": plain_key, "curl": curl}))
        return
    click.echo(f"Demo bot {bot.id} ({bot.name}, {bot.username}) is ready.\n")
    click.echo(f"  bot id:  {bot.id}\n  API key: {plain_key}\n")
    click.echo(f"Try it:\n  {curl}\n")
    click.echo(f"Swagger UI: {base_url}/api/docs  (Authorize -> paste the key)")
