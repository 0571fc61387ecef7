"""`flask demo`: a demo bot with realistic clients and parcels, and a fresh key to try them with."""
import json
import random
from datetime import timedelta
from decimal import Decimal

import click
from flask.cli import with_appcontext

from ..access.keys import issue_key
from ..extensions import db
from ..models import Bot, Client, TrackingNumber
from ..models.types import utcnow
from ..resources.bots.service import create_bot
from ..resources.tracking.service import create_tracking, update_tracking
from ..writes.change_numbers import next_change_seq
from .output import json_option

DEMO_BOT_ID = 123  # the product document's examples use BOT_ID = 123
CLIENTS = [
    ("CLIENT123", "Алия Нурланова", "+77011234567", "aliya_n"),
    ("CLIENT124", "Бахтияр Садыков", "+77027654321", "bakhtiyar_s"),
    ("CLIENT125", "Виктория Ким", "+998901112233", "vika_kim"),
    ("CLIENT126", "Данияр Абенов", "+77051239876", None),
    ("CLIENT127", "Елена Петрова", "+79161234567", "lena_petrova"),
    ("CLIENT128", "Жанна Ахметова", "+77471112233", "zhanna_a"),
    ("CLIENT129", "Ильяс Юсупов", "+996555123456", "ilyas_yu"),
    ("CLIENT130", "Марат Серикбаев", "+77759998877", None),
]
PROGRESS = ("pending", "in_transit", "delivered", "issued")
NOTES = ("Хрупкое", "Одежда", "Электроника", "Обувь", None, None)


def _seed_clients(bot_id, now):
    for offset, (code, name, phone, username) in enumerate(CLIENTS):
        created = now - timedelta(days=40 - offset * 3)
        db.session.add(Client(bot_id=bot_id, client_code=code, name=name, phone=phone, telegram_username=username,
                              telegram_id=500000000 + offset, created_at=created, updated_at=created,
                              change_seq=next_change_seq(bot_id)))
    db.session.commit()


def _seed_parcels(bot_id, now, count=40):
    rng = random.Random(DEMO_BOT_ID)  # nosec B311: reproducible demo data, nothing secret or guessable matters
    for number in range(count):
        created = now - timedelta(days=rng.randint(0, 28), hours=rng.randint(0, 23))
        weight = Decimal(rng.randint(5, 300)) / 10
        fields = {"tracking_number": "ABC123456" if number == 0 else f"YT{7400000000000 + rng.randint(0, 10**12)}",
                  "client_code": CLIENTS[number % len(CLIENTS)][0], "status": "pending",
                  "quantity": rng.randint(1, 6), "weight_kg": weight, "price_per_kg_usd": Decimal("14.29"),
                  "note": rng.choice(NOTES)}
        record = create_tracking(bot_id, fields, source="demo", at=created)
        moment = created
        final_stage = rng.choice((0, 1, 1, 2, 2, 3)) if number else 0
        for status in PROGRESS[1:final_stage + 1]:
            moment = min(moment + timedelta(days=rng.randint(1, 6)), now)
            update_tracking(bot_id, record.id, {"status": status}, source="demo", at=moment)
    create_tracking(bot_id, {"tracking_number": "LP00458796321CN", "client_code": "CLIENT124", "status": "cancelled",
                             "quantity": 1, "weight_kg": Decimal("1.2")}, source="demo", at=now - timedelta(days=3))


@click.command("demo")
@click.option("--port", default=8000, show_default=True, help="Port used in the printed curl command.")
@json_option
@with_appcontext  # as AppGroup commands have: an app context under app.test_cli_runner() too
def demo_command(port, as_json):
    """Create (once) the demo bot with sample data, and print a new key for it."""
    bot = db.session.get(Bot, DEMO_BOT_ID) or create_bot(bot_id=DEMO_BOT_ID, name="Demo Cargo",
                                                         username="@demo_cargo_bot")
    now = utcnow()
    if not db.session.scalar(db.select(Client.id).where(Client.bot_id == bot.id).limit(1)):
        _seed_clients(bot.id, now)
    if not db.session.scalar(db.select(TrackingNumber.id).where(TrackingNumber.bot_id == bot.id).limit(1)):
        _seed_parcels(bot.id, now)
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
