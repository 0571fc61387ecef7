"""How fast an export is made, and whether its memory stays flat, by format: the rate behind EXPORT_XLSX_MAX_ROWS.

An XLSX body is sent only when its last row is in (a ZIP's directory comes last), so its build time is the wait
for the first byte, which nginx's proxy_read_timeout (35 s) bounds. Fills an SQLite bot with ROWS parcels, then
exports it in-process in each format and prints the time, the body's size and the process's peak resident set
(which should not grow with ROWS). Not a test: run it by hand.

    .venv/bin/python bench/export_xlsx.py [--rows 50000] [--formats csv ndjson xlsx]
"""
import argparse
import logging
import resource
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_migrate import upgrade  # noqa: E402

from config import TestConfig  # noqa: E402
from tracker_api import create_app  # noqa: E402
from tracker_api.extensions import db  # noqa: E402
from tracker_api.access.keys import issue_key  # noqa: E402
from tracker_api.models import TrackingNumber  # noqa: E402
from tracker_api.models.types import utcnow  # noqa: E402
from tracker_api.resources.bots.service import create_bot  # noqa: E402


def filled_app(rows):
    app = create_app(TestConfig(), SQLALCHEMY_DATABASE_URI=f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3")
    with app.app_context():
        upgrade()
        create_bot(bot_id=123, name="Bench Cargo", username="@bench_cargo_bot")
        _, key = issue_key(123, "bench")
        now = utcnow()
        for start in range(0, rows, 5000):
            db.session.execute(TrackingNumber.__table__.insert(), [dict(
                bot_id=123, tracking_number=f"BENCH{n:08d}", client_code="CLIENT123", status="in_transit",
                quantity=3, weight_kg=Decimal("10.5"), price_per_kg_usd=Decimal("14.29"),
                total_cost_usd=Decimal("150.05"), note="Хрупкое стекло", change_seq=n + 1, created_at=now,
                updated_at=now) for n in range(start, min(rows, start + 5000))])
            db.session.commit()
    return app, key


def peak_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--formats", nargs="+", default=["csv", "ndjson", "xlsx"])
    arguments = parser.parse_args()
    logging.disable(logging.CRITICAL)
    app, key = filled_app(arguments.rows)
    app.config["EXPORT_XLSX_MAX_ROWS"] = arguments.rows
    http = app.test_client()
    print(f"{arguments.rows} rows; peak RSS after filling: {peak_mib()} MiB")
    for export_format in arguments.formats:
        started, cpu_started = time.monotonic(), time.process_time()
        response = http.get(f"/api/v1/export/123/tracking?format={export_format}", headers={"X-API-Key": key},
                            buffered=False)
        body = iter(response.response)
        first = next(body)
        first_byte = time.monotonic() - started
        size = len(first) + sum(len(chunk) for chunk in body)
        response.close()
        total, cpu = time.monotonic() - started, time.process_time() - cpu_started
        print(f"{export_format:7} first byte {first_byte:6.2f} s  all {total:6.2f} s  CPU {cpu:6.2f} s  "
              f"{arguments.rows / cpu:8.0f} rows per CPU-s  {size / 1e6:7.1f} MB  peak RSS {peak_mib()} MiB")


if __name__ == "__main__":
    main()
