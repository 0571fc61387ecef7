"""The demo data: a cargo company's realistic clients and parcels, for `flask demo` and the admin API's sandbox
bots (resources/admin), which are reset to exactly this data on request. Deterministic but for the times, which
are relative to now."""
import random
from datetime import timedelta
from decimal import Decimal

from ..extensions import db
from ..models import Client, TrackingNumber
from ..models.types import utcnow
from ..writes.change_numbers import next_change_seq
from .tracking.service import create_tracking, update_tracking

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


def seed_demo_data(bot_id, now=None):
    """Give a bot the demo clients and parcels, each kind only if it has none yet."""
    now = now or utcnow()
    if not db.session.scalar(db.select(Client.id).where(Client.bot_id == bot_id).limit(1)):
        _seed_clients(bot_id, now)
    if not db.session.scalar(db.select(TrackingNumber.id).where(TrackingNumber.bot_id == bot_id).limit(1)):
        _seed_parcels(bot_id, now)
