"""Printing for operator commands: a readable table, or JSON with --json."""
import json
from datetime import datetime

import click

json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")


def _plain(value):
    return value.isoformat() if isinstance(value, datetime) else value


def emit(rows, columns, as_json, *, single=False):
    """Print dicts as JSON (one object if single) or as aligned columns."""
    rows = [{column: _plain(row.get(column)) for column in columns} for row in rows]
    if as_json:
        click.echo(json.dumps(rows[0] if single else rows, ensure_ascii=False))
        return
    widths = {c: max([len(c)] + [len(str(r[c] if r[c] is not None else "-")) for r in rows]) for c in columns}
    click.echo("  ".join(c.ljust(widths[c]) for c in columns))
    for row in rows:
        click.echo("  ".join(str(row[c] if row[c] is not None else "-").ljust(widths[c]) for c in columns))
