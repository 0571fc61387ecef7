"""The orjson provider (tracker_api/web/json_provider.py) writes what Flask's own provider writes, byte for byte."""
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from flask import Flask
from flask.json.provider import DefaultJSONProvider

from tracker_api.web.json_provider import OrjsonProvider


@dataclass
class Point:
    x: int
    label: str


PAGE = {"tracking_numbers": [{"id": index, "tracking_number": f"ABC{index}", "client_code": "КЛИЕНТ-1",
                              "current_status": "in_transit", "quantity": 2, "weight_kg": 10.5,
                              "price_per_kg_usd": None, "total_cost_usd": 150.0, "note": "Хрупкое \"стекло\"\n",
                              "created_at": "2025-01-27T10:00:00+00:00"} for index in range(50)],
        "total": 1_000_000}
# Floats as the API's numbers come: money (Numeric 12,2) and weights (Numeric 10,3) never need an exponent, the one
# place the encoders differ in form (orjson 1e-7, the standard library 1e-07: the same number).
VALUES = [PAGE, None, True, 0, -7, 2**62, {"quantity": 10**30}, 0.1, 0.001, 9999999999.99, 9999999.999, 123456789.125,
          "", "emoji 📦 and \u2028", [], {},
          {"b": 1, "a": [1, {"d": None, "c": "x"}]}, {3: "int key", 1: "keys"},
          datetime(2025, 1, 27, 10, 0, tzinfo=timezone.utc), date(2025, 1, 27), Decimal("10.50"),
          uuid.UUID(int=7), Point(1, "a")]


@pytest.fixture
def app():
    return Flask(__name__)  # the providers hold it by a weak reference: the fixture keeps it alive


@pytest.fixture
def providers(app):
    flasks = DefaultJSONProvider(app)
    flasks.sort_keys, flasks.ensure_ascii = False, False
    return flasks, OrjsonProvider(app)


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
def test_answers_are_byte_for_byte_flasks(providers, value):
    flasks, ours = providers
    assert ours.response(value).get_data() == flasks.response(value).get_data()
    for form in ({}, {"separators": (",", ":")}, {"sort_keys": True}, {"sort_keys": True, "separators": (",", ":")},
                 {"indent": 2}):
        assert ours.dumps(value, **form) == flasks.dumps(value, **form), form


def test_debug_answers_are_indented_as_flasks(app, providers):
    flasks, ours = providers
    app.debug = True
    assert ours.response(PAGE).get_data() == flasks.response(PAGE).get_data()
    assert b'\n  "tracking_numbers": [' in ours.response(PAGE).get_data()


def test_an_ascii_only_dump_is_still_available(providers):
    flasks, ours = providers
    assert ours.dumps({"note": "Хрупкое"}, ensure_ascii=True) == flasks.dumps({"note": "Хрупкое"}, ensure_ascii=True)
