"""The operator CLI: `flask --app wsgi bots|keys|platform-tokens|security|totals|webhooks|demo|purge-deleted ...`."""
from .bots_cli import bots_cli
from .demo import demo_command
from .keys_cli import keys_cli
from .platform_tokens_cli import platform_tokens_cli
from .purge_cli import purge_deleted_command
from .security_cli import security_cli
from .totals_cli import totals_cli
from .webhooks_cli import webhooks_cli


def register_commands(app):
    app.cli.add_command(bots_cli)
    app.cli.add_command(keys_cli)
    app.cli.add_command(platform_tokens_cli)
    app.cli.add_command(security_cli)
    app.cli.add_command(totals_cli)
    app.cli.add_command(webhooks_cli)
    app.cli.add_command(demo_command)
    app.cli.add_command(purge_deleted_command)
