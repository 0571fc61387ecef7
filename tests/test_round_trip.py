"""Round trip: whatever an export writes (CSV, CSV for Russian-locale Excel, NDJSON, XLSX) imports back unchanged,
into an empty bot and into the bot it came from, clients and tracking numbers alike; compared record by record."""
from decimal import Decimal

import pytest

from conftest import in_app, make_tenant
from tracker_api.extensions import db
from tracker_api.models import Client, TrackingNumber
from tracker_api.resources.clients.service import create_client
from tracker_api.resources.tracking.service import create_tracking

# Text a spreadsheet would run, text that starts with the guard quote itself, Cyrillic, `+` phones, line breaks.
AWKWARD_TEXTS = ["=SUM(A1:A9)", "-5 kg", "+7 (701) 123-45-67", "@home", "'quoted", "''=twice", "'=guarded",
                 "\t=tab", "Хрупкое; стекло, \"кавычки\"", "две\r\nстроки", "'", "-", "=", "+77011234567", "-42",
                 "ordinary"]
CLIENTS = [
    {"client_code": "CLIENT001", "name": "Алия Нурланова", "phone": "+7 (701) 123-45-67",
     "telegram_username": "aliya_n", "telegram_id": 512345678},
    {"client_code": "CLIENT002", "name": "=HYPERLINK(\"http://evil.example\",\"x\")", "phone": "+77011234567",
     "telegram_username": None, "telegram_id": 9_007_199_254_740_993},  # past a float's exact integers
    {"client_code": "CLIENT003", "name": None, "phone": None, "telegram_username": None, "telegram_id": None},
    *({"client_code": f"TEXT{n:03d}", "name": text, "phone": "-0 (000) 000-00-00" if n % 2 else None,
       "telegram_username": None, "telegram_id": None} for n, text in enumerate(AWKWARD_TEXTS)),
]
TRACKING = [
    {"tracking_number": "ABC123456", "client_code": "CLIENT001", "status": "in_transit", "quantity": 5,
     "weight_kg": Decimal("10.5"), "price_per_kg_usd": Decimal("14.29"), "total_cost_usd": Decimal("150.00"),
     "note": "Хрупкое"},
    {"tracking_number": "00123", "client_code": "CLIENT002", "status": "delivered", "quantity": 1,
     "weight_kg": Decimal("0.001"), "price_per_kg_usd": Decimal("0.01"), "total_cost_usd": Decimal("0.00"),
     "note": None},
    {"tracking_number": "AB/12.x_y-z", "client_code": "CLIENT003", "status": "pending", "quantity": 1_000_000,
     "weight_kg": Decimal("9999999.999"), "price_per_kg_usd": None, "total_cost_usd": Decimal("9999999999.99"),
     "note": "-"},
    {"tracking_number": "1234567890123", "client_code": "CLIENT001", "status": "cancelled", "quantity": 2,
     "weight_kg": None, "price_per_kg_usd": None, "total_cost_usd": None, "note": "'"},
    *({"tracking_number": f"TXT{n:04d}", "client_code": "CLIENT001", "status": "pending", "quantity": 1,
       "weight_kg": None, "price_per_kg_usd": None, "total_cost_usd": None, "note": text}
      for n, text in enumerate(AWKWARD_TEXTS)),
]
# Each format the export offers, as its query string.
FORMATS = {"csv": "format=csv", "csv-bom": "format=csv&bom=true", "csv-russian-excel": "format=csv&delimiter=semicolon",
           "ndjson": "format=ndjson", "xlsx": "format=xlsx"}
RESOURCES = {"clients": (Client, "client_code", ("name", "phone", "telegram_username", "telegram_id")),
             "tracking": (TrackingNumber, "tracking_number", ("client_code", "status", "quantity", "weight_kg",
                                                              "price_per_kg_usd", "total_cost_usd", "note"))}


def fill(app, bot_id):
    def write():
        for fields in CLIENTS:
            create_client(bot_id, fields)
        for fields in TRACKING:
            create_tracking(bot_id, fields)
    in_app(app, write)


def records(app, bot_id, resource):
    """{code: (every field an import can set)} of the bot's records."""
    model, code, fields = RESOURCES[resource]
    return in_app(app, lambda: {getattr(row, code): tuple(getattr(row, name) for name in fields)
                                for row in db.session.scalars(db.select(model).filter_by(bot_id=bot_id))})


def export(http, tenant, resource, query):
    response = http.get(f"/api/v1/export/{tenant.bot_id}/{resource}?{query}", headers=tenant.headers)
    assert response.status_code == 200
    return response


def import_file(http, tenant, resource, exported):
    path = f"/api/v1/{'tracking' if resource == 'tracking' else 'clients'}/{tenant.bot_id}/import"
    return http.post(path, data=exported.get_data(), content_type=exported.content_type, headers=tenant.headers)


@pytest.fixture
def source(app):
    tenant = make_tenant(app, 123, "Demo Cargo", "@demo_cargo_bot")
    fill(app, tenant.bot_id)
    return tenant


@pytest.mark.parametrize("query", FORMATS.values(), ids=FORMATS.keys())
def test_every_export_imports_into_an_empty_bot_record_by_record(app, http, source, query):
    target = make_tenant(app, 789, "Empty Cargo", "@empty_cargo_bot")
    for resource in ("clients", "tracking"):
        response = import_file(http, target, resource, export(http, source, resource, query))

        assert response.status_code == 200, response.get_json()
        expected = records(app, source.bot_id, resource)
        assert response.get_json()["counts"] == {"created": len(expected), "updated": 0, "unchanged": 0,
                                                 "errors": 0}
        imported = records(app, target.bot_id, resource)
        for code, fields in expected.items():
            assert imported[code] == fields, (resource, code)
        assert imported.keys() == expected.keys()


@pytest.mark.parametrize("query", FORMATS.values(), ids=FORMATS.keys())
def test_every_export_imported_into_its_own_bot_changes_nothing(app, http, source, query):
    before = {resource: records(app, source.bot_id, resource) for resource in RESOURCES}
    for resource in RESOURCES:
        response = import_file(http, source, resource, export(http, source, resource, query))

        assert response.status_code == 200, response.get_json()
        assert response.get_json()["counts"]["unchanged"] == len(before[resource])
    assert {resource: records(app, source.bot_id, resource) for resource in RESOURCES} == before


def test_the_awkward_texts_are_really_in_the_data_and_guarded_in_the_csv(http, source):
    """The round trip above proves something only if the export did guard these cells."""
    text = export(http, source, "tracking", "format=csv").get_data(as_text=True)
    for guarded in ("'=SUM(A1:A9)", "'-5 kg", "'@home", "''quoted", "'''=twice", "''=guarded"):
        assert f",{guarded}," in text
    assert ",+77011234567," in text and ",-42," in text  # plain numbers: nothing to guard
