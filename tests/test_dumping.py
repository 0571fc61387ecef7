"""Compiled dumpers (tracker_api/serialization/dumping.py) answer exactly what marshmallow's Schema.dump answers.

Every response schema of the app is dumped both ways from dicts, objects and mappings that have every field, none
(None values), or only some; then the field types and schema features the dumper fast-paths or leaves to
marshmallow, one by one. Equal means equal reprs: key order and 1 vs 1.0 vs True count, as they do in JSON.
"""
import collections
import copy
import gc
import weakref
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from enum import Enum
from types import SimpleNamespace

import marshmallow as ma
import pytest
from sqlalchemy import select, text

from conftest import in_app, make_tracking
from tracker_api.extensions import db
from tracker_api.models import TrackingNumber
from tracker_api.resources.tracking.schemas import TrackingListSchema, TrackingNumberSchema
from tracker_api.serialization import dumping
from tracker_api.serialization.dumping import compiled_dumper
from tracker_api.serialization.schemas import UTCDateTimeField, money

TEXT = "Хрупкое: «стекло» ✓"
MOMENT = datetime(2025, 1, 27, 10, 0, 5, 123456, tzinfo=timezone.utc)


def assert_dumps_alike(schema, obj, many=None):
    """The compiled dump equals marshmallow's, or both raise the same kind of error."""
    try:
        expected = schema.dump(obj, many=many)
    except Exception as error:
        with pytest.raises(type(error)):
            compiled_dumper(schema).dump(obj, many=many)
        return
    assert repr(compiled_dumper(schema).dump(obj, many=many)) == repr(expected)


# --- every response schema of the app, on generated records ------------------------------------------------

def response_schemas(app):
    """The schema instances flask-smorest dumps responses with (those documented on the views), by name."""
    schemas = {}
    for view in app.view_functions.values():
        view_class = getattr(view, "view_class", None)
        methods = [getattr(view_class, method.lower()) for method in view_class.methods] if view_class else [view]
        for method in methods:
            for documented in getattr(method, "_apidoc", {}).get("response", {}).get("responses", {}).values():
                for response in documented:
                    if isinstance(response, dict) and isinstance(response.get("schema"), ma.Schema):
                        schemas.setdefault(type(response["schema"]).__name__, response["schema"])
    return schemas


def field_value(field, variant, record):
    """A representative value of the field's type: text in Cyrillic, Decimals with trailing zeros, aware times."""
    if isinstance(field, ma.fields.Nested):
        one = sample(field.schema, variant, record)
        return [one, sample(field.schema, "full", record)] if field.schema.many or field.many else one
    if isinstance(field, ma.fields.List):
        return [field_value(field.inner, "full", record), field_value(field.inner, variant, record)]
    if isinstance(field, ma.fields.Dict):
        key = field_value(field.key_field, "full", record) if field.key_field else "pending"
        return {key: field_value(field.value_field, variant, record) if field.value_field else [1, TEXT]}
    if isinstance(field, ma.fields.Decimal):
        return Decimal("10.500")
    if isinstance(field, ma.fields.Float):
        return 1.25
    if isinstance(field, ma.fields.Boolean):
        return True
    if isinstance(field, ma.fields.Integer):
        return 7
    if isinstance(field, ma.fields.DateTime):
        return MOMENT
    if isinstance(field, ma.fields.Date):
        return MOMENT.date()
    return TEXT


def sample(schema, variant, record):
    """A record for the schema: `full` (every field), `none` (every field None), `sparse` (every other field
    missing, the rest None or full by turns), `empty` (nothing); built as `record` makes it (dict, object...)."""
    data, dotted = {}, set()
    for index, (name, field) in enumerate(schema.dump_fields.items()):
        attribute = field.attribute or name
        if variant == "empty" or (variant == "sparse" and index % 2):
            continue
        value = None if variant == "none" or (variant == "sparse" and index % 4 == 0) else \
            field_value(field, variant, record)
        if "." in attribute:  # "event.type": a record under "event"
            head, rest = attribute.split(".", 1)
            data.setdefault(head, {})[rest] = value
            dotted.add(head)
        else:
            data[attribute] = value
    return record({key: record(value) if key in dotted else value for key, value in data.items()})


class Mapping(collections.UserDict):
    """A mapping that is no dict: marshmallow reads it by key, then by attribute."""


RECORDS = {"dict": dict, "object": lambda data: SimpleNamespace(**data), "mapping": Mapping}


@pytest.fixture(scope="module")
def schemas(sqlite_app):
    return response_schemas(sqlite_app)


def test_the_walk_finds_the_apps_response_schemas(schemas):
    assert {"TrackingNumberSchema", "TrackingList", "TrackingHistorySchema", "OverviewSchema",
            "TrackingStatisticsSchema", "ClientSchema", "BotSchema", "DeliverySchema"} <= set(schemas)
    assert len(schemas) >= 15


@pytest.mark.parametrize("record", RECORDS)
@pytest.mark.parametrize("variant", ["full", "none", "sparse", "empty"])
def test_every_response_schema_dumps_as_marshmallow_does(schemas, variant, record):
    for schema in schemas.values():
        assert_dumps_alike(schema, sample(schema, variant, RECORDS[record]))
        assert_dumps_alike(schema, [sample(schema, "full", RECORDS[record]), sample(schema, variant, dict)],
                           many=True)


def test_the_tracking_list_is_compiled_field_by_field_not_left_to_marshmallow(app, http, tenant, monkeypatch):
    """The hot path really is compiled: with marshmallow's Field.serialize broken, the list still answers."""
    for schema in (TrackingListSchema(), TrackingNumberSchema()):
        compiled_dumper(schema).dump({})
        assert all(attribute is not None for _, attribute, _ in compiled_dumper(schema).plan)
    http.post(f"/api/v1/tracking/{tenant.bot_id}", headers=tenant.headers, json={
        "tracking_number": "ABC1", "client_code": "C1", "weight_kg": 1.5, "note": TEXT})

    def broken(*args, **kwargs):
        raise RuntimeError("marshmallow's per-field serialize ran")
    monkeypatch.setitem(app.config, "VERIFY_FAST_DUMPS", False)
    monkeypatch.setattr(ma.fields.Field, "serialize", broken)
    response = http.get(f"/api/v1/tracking/{tenant.bot_id}", headers=tenant.headers)
    assert response.status_code == 200
    assert response.get_json()["tracking_numbers"][0]["note"] == TEXT


def test_orm_instances_and_rows_dump_as_marshmallow_does(app, tenant, monkeypatch):
    make_tracking(app, tenant.bot_id, note=None, weight_kg=None)
    make_tracking(app, tenant.bot_id, tracking_number="ЯЩИК1")

    def check():
        records = db.session.scalars(select(TrackingNumber).order_by(TrackingNumber.id)).all()
        assert_dumps_alike(TrackingListSchema(), {"tracking_numbers": records, "total": 2})
        some_columns = db.session.execute(select(TrackingNumber.id, TrackingNumber.tracking_number,
                                                 TrackingNumber.weight_kg, TrackingNumber.created_at)).all()
        assert_dumps_alike(TrackingNumberSchema(), some_columns, many=True)
        return db.session.execute(select(*TrackingNumber.__table__.columns,
                                         TrackingNumber.status.label("current_status"))).all()
    every_column = in_app(app, check)
    assert_dumps_alike(TrackingListSchema(), {"tracking_numbers": every_column, "total": 2})

    def field_by_field(self, obj):
        raise AssertionError("a row with every field was not read in one go")
    monkeypatch.setattr(dumping.CompiledDumper, "dump_field_by_field", field_by_field)
    compiled_dumper(TrackingNumberSchema()).dump(every_column, many=True)


# --- field types and schema features, one by one ---------------------------------------------------------

class Status(str, Enum):
    PENDING = "pending"


@dataclass
class Parcel:
    code: object = None
    count: object = None


def schema_of(fields, **hooks):
    return type("Probe", (ma.Schema,), {**fields, **hooks})()


@pytest.mark.parametrize("field, value", [
    (ma.fields.String(), TEXT), (ma.fields.String(), b"bytes \xd0\xaf"), (ma.fields.String(), 12),
    (ma.fields.String(), Status.PENDING), (ma.fields.Email(), "a@b.kz"),
    (ma.fields.Integer(), 5), (ma.fields.Integer(), True), (ma.fields.Integer(), "12"), (ma.fields.Integer(), 2.9),
    (ma.fields.Integer(as_string=True), 5), (ma.fields.Float(), 3), (ma.fields.Float(), Decimal("0.1")),
    (ma.fields.Decimal(), Decimal("1.50")), (ma.fields.Decimal(places=1, as_string=True), Decimal("1.55")),
    (money(), Decimal("150.00")), (money(), 3), (ma.fields.Boolean(), 0), (ma.fields.Raw(), {"a": [1]}),
    (UTCDateTimeField(), MOMENT), (ma.fields.DateTime(format="timestamp"), MOMENT),
    (ma.fields.DateTime(format="%d.%m.%Y %H:%M"), MOMENT), (ma.fields.DateTime(format="rfc"), MOMENT),
    (ma.fields.AwareDateTime(), MOMENT), (ma.fields.Date(), date(2025, 1, 27)), (ma.fields.Date(), MOMENT),
    (ma.fields.Time(), MOMENT.time()), (ma.fields.UUID(), "a3b1c4d5-0000-4000-8000-000000000000"),
    (ma.fields.List(ma.fields.Integer()), ["1", 2]), (ma.fields.List(ma.fields.Integer()), (1, None)),
    (ma.fields.List(ma.fields.UUID()), []), (ma.fields.List(ma.fields.String()), "ab"),
    (ma.fields.Dict(), {"b": 1, "a": None}), (ma.fields.Dict(), [("k", "v")]),
    (ma.fields.Dict(keys=ma.fields.String(), values=money()), {"x": Decimal("1.10"), 5: None}),
    (ma.fields.Dict(keys=ma.fields.Integer()), {"1": "a", 2: "b"}),
    (ma.fields.Dict(values=ma.fields.Decimal(as_string=True)), {"a": Decimal("2.50")}),
    (ma.fields.Enum(Status), Status.PENDING), (ma.fields.Constant(42), "ignored"),
    (ma.fields.Tuple((ma.fields.String(), money())), ("a", Decimal("1.0"))),
])
def test_each_field_type_dumps_as_marshmallow_does(field, value):
    schema = schema_of({"value": field})
    for record in ({"value": value}, {"value": None}, {}, SimpleNamespace(value=value), SimpleNamespace(),
                   SimpleNamespace(value=ma.missing), Mapping(value=value)):
        assert_dumps_alike(schema, record)


def test_keys_attributes_and_defaults_are_marshmallows():
    schema = schema_of({
        "renamed": ma.fields.String(data_key="shown"), "code": ma.fields.String(attribute="parcel.code"),
        "count": ma.fields.Integer(attribute="total", dump_default=0), "later": ma.fields.String(dump_default=list),
        "items": ma.fields.Raw(), "get": ma.fields.Raw(),
        "method": ma.fields.Method("shout"), "function": ma.fields.Function(lambda obj: "f"),
        "secret": ma.fields.String(load_only=True)}, shout=lambda self, obj: "!")
    for record in ({"renamed": "a", "parcel": {"code": TEXT}, "total": 3, "secret": "s"}, {},
                   {"parcel": Parcel(code="x")}, Parcel(), SimpleNamespace(parcel=None, items=[1], total=None)):
        assert_dumps_alike(schema, record)


def test_only_exclude_and_many_of_nested_schemas_are_marshmallows():
    inner = schema_of({"a": ma.fields.Integer(), "b": ma.fields.String(), "c": money()})
    schema = schema_of({
        "one": ma.fields.Nested(type(inner), only=("a", "c")),
        "many": ma.fields.Nested(type(inner), many=True, exclude=("a",)),
        "listed": ma.fields.List(ma.fields.Nested(type(inner), only=("b",))),
        "by_key": ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Nested(type(inner))),
        "instance": ma.fields.Nested(type(inner)(many=True)),
        "lazy": ma.fields.Nested(lambda: type(inner)(exclude=("c",)))})
    item = {"a": 1, "b": TEXT, "c": Decimal("2.50")}
    full = {"one": item, "many": [item, {}], "listed": [item, Parcel()], "by_key": {"x": item, "y": None},
            "instance": [item], "lazy": SimpleNamespace(**item)}
    for record in (full, {key: None for key in full}, {}, SimpleNamespace(**full)):
        assert_dumps_alike(schema, record)
        assert_dumps_alike(schema, [record, record], many=True)
    assert_dumps_alike(schema, None, many=True)


def test_a_copy_of_a_dumped_schema_compiles_its_own_dumper():
    inner = schema_of({"a": ma.fields.Integer(), "b": ma.fields.String()})
    item = {"a": 1, "b": TEXT}
    assert_dumps_alike(inner, item)
    assert_dumps_alike(schema_of({"one": ma.fields.Nested(inner, only=("b",))}), {"one": item})
    for twin in (copy.copy(inner), copy.deepcopy(inner)):
        twin.exclude = {"a"}
        twin._init_fields()
        assert compiled_dumper(twin).dump(item) == {"b": TEXT}
    assert compiled_dumper(inner).dump(item) == item


def test_a_dumped_schema_is_not_kept_alive_by_its_dumper():
    schema = schema_of({"nested": ma.fields.Nested(TrackingNumberSchema), "code": ma.fields.Method("code_of")},
                       code_of=lambda self, obj: "x")
    compiled_dumper(schema).dump({"nested": {"id": 1}})
    released = weakref.ref(schema)
    del schema
    gc.collect()
    assert released() is None


def test_a_schema_nesting_itself_is_compiled_lazily():
    class Node(ma.Schema):
        name = ma.fields.String()
        children = ma.fields.List(ma.fields.Nested(lambda: Node()))
    tree = {"name": "root", "children": [{"name": "leaf", "children": []}, {"name": TEXT}]}
    assert_dumps_alike(Node(), tree)


def test_hooks_and_own_accessors_leave_the_whole_schema_to_marshmallow():
    class Hooked(ma.Schema):
        code = ma.fields.String()

        @ma.post_dump(pass_original=True)
        def mark(self, data, original, **kwargs):
            return {**data, "seen": "code" in original}

    class Upper(ma.Schema):
        code = ma.fields.String()

        def get_attribute(self, obj, attr, default):
            return str(obj.get(attr, "")).upper()

    for schema in (Hooked(), Upper()):
        assert_dumps_alike(schema, {"code": TEXT})
        compiled_dumper(schema).dump({})
        assert compiled_dumper(schema).plan is dumping.MARSHMALLOW


def test_rows_mappings_and_dicts_are_read_as_marshmallow_reads_them(sqlite_app):
    schema = schema_of({"code": ma.fields.String(), "count": ma.fields.Integer(), "keys": ma.fields.Raw()})
    with sqlite_app.app_context():
        rows = db.session.execute(text("SELECT :text AS code, 1 AS count UNION ALL SELECT 'b', NULL"),
                                  {"text": TEXT}).all()
    assert_dumps_alike(schema, rows, many=True)
    assert_dumps_alike(schema, {"code": None})  # `keys` missing: marshmallow then reads the dict's attribute
    # A mapping is read by key first, though UserDict has an attribute `data` too.
    assert_dumps_alike(schema_of({"data": ma.fields.String()}), Mapping(data=TEXT))


def test_rows_of_one_or_several_results_dump_as_marshmallow_dumps_them(sqlite_app):
    """Rows are read by column name (attrgetter, SQLAlchemy's public attribute access), in whatever order the
    columns come, also as a List(Nested) field's items, with two columns of one name, and mixed from two results."""
    schema = schema_of({"code": ma.fields.String(), "count": ma.fields.Integer()})
    wrapper = schema_of({"items": ma.fields.List(ma.fields.Nested(schema))})
    with sqlite_app.app_context():
        def rows(sql):
            return db.session.execute(text(sql)).all()
        in_order = rows("SELECT 'a' AS code, 1 AS count UNION ALL SELECT 'b', NULL")
        reordered = rows(f"SELECT 7 AS count, 'z' AS extra, '{TEXT}' AS code")
        twice = rows("SELECT 'a' AS code, 'b' AS code, 1 AS count")
    assert_dumps_alike(schema, in_order, many=True)
    assert_dumps_alike(schema, reordered, many=True)
    assert_dumps_alike(wrapper, {"items": reordered})
    assert_dumps_alike(schema, in_order + reordered, many=True)  # two results
    assert_dumps_alike(wrapper, {"items": in_order + reordered})
    assert_dumps_alike(schema, twice, many=True)
    assert_dumps_alike(wrapper, {"items": [None, *in_order]})


def test_a_missing_value_leaves_its_key_out(sqlite_app):
    schema = schema_of({"code": ma.fields.String(), "count": ma.fields.Integer()})
    assert_dumps_alike(schema, {"code": ma.missing, "count": 1})
    assert_dumps_alike(schema, [{"code": "a", "count": ma.missing}, {"code": "b", "count": 2}], many=True)


# --- the safety net ---------------------------------------------------------------------------------

def shouting(field):
    return lambda value: None if value is None else str(value).upper()


def test_verify_fast_dumps_catches_a_compiled_dump_that_differs(sqlite_app, monkeypatch):
    monkeypatch.setitem(dumping.CONVERTERS, ma.fields.String._serialize, shouting)
    schema = schema_of({"code": ma.fields.String()})
    with sqlite_app.app_context():
        assert sqlite_app.config["VERIFY_FAST_DUMPS"]
        with pytest.raises(AssertionError, match="differs from marshmallow"):
            dumping.dump(schema, {"code": "abc"})
        monkeypatch.setitem(sqlite_app.config, "VERIFY_FAST_DUMPS", False)
        assert dumping.dump(schema, {"code": "abc"}) == {"code": "ABC"}


def test_a_response_that_would_differ_fails_the_request_under_verify_fast_dumps(app, http, tenant, monkeypatch):
    make_tracking(app, tenant.bot_id)
    monkeypatch.setattr(dumping, "compiled_dumper", dumping.CompiledDumper)  # compiled anew, with the broken String
    monkeypatch.setitem(dumping.CONVERTERS, ma.fields.String._serialize, shouting)
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", True)
    with pytest.raises(AssertionError, match="TrackingList"):
        http.get(f"/api/v1/tracking/{tenant.bot_id}", headers=tenant.headers)
