"""The operator CLI: `flask --app wsgi bots|keys|demo ...`."""
from .bots import bots_cli
from .demo import demo_command
from .keys import keys_cli


def register_commands(app):
    app.cli.add_command(bots_cli)
    app.cli.add_command(keys_cli)
    app.cli.add_command(demo_command)
