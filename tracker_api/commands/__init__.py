"""The operator CLI: `flask --app wsgi bots|keys|security|totals|webhooks|demo|purge-deleted ...`."""
from .bots import bots_cli
from .demo import demo_command
from .keys import keys_cli
from .purge import purge_deleted_command
from .security import security_cli
from .totals import totals_cli
from .webhooks import webhooks_cli


def register_commands(app):
    app.cli.add_command(bots_cli)
    app.cli.add_command(keys_cli)
    app.cli.add_command(security_cli)
    app.cli.add_command(totals_cli)
    app.cli.add_command(webhooks_cli)
    app.cli.add_command(demo_command)
    app.cli.add_command(purge_deleted_command)
