"""Schema dumps compiled to plain loops: marshmallow's output, exactly, without its per-field call overhead.

A list page of 50 records costs marshmallow over 500 `Field.serialize` calls, each going through `get_value`,
`Schema.get_attribute` and `_get_value_for_key` before the field's `_serialize`. A compiled dumper walks the
schema's `dump_fields` once and keeps, per field, the output key, the attribute to read and a converter that
does what the field's `_serialize` does. Only code whose behaviour is replicated here is fast-pathed; anything
else (a field type not listed in CONVERTERS, dotted attributes, dump defaults, a schema with dump hooks or its
own accessor) is left to marshmallow, per field or for the whole schema. VERIFY_FAST_DUMPS (on in the test
settings) dumps everything a second time through marshmallow and fails on the smallest difference.
"""
from operator import attrgetter, itemgetter

from flask import current_app, has_app_context
from marshmallow import Schema, fields, missing
from marshmallow.decorators import POST_DUMP, PRE_DUMP
from marshmallow.utils import ensure_text_type, get_value
from sqlalchemy.engine import Row

from .schemas import ExactDecimal

_ABSENT = object()  # a dict's "no such key" (marshmallow's `missing` could be a stored value)


def dump(schema, obj, *, many=None):
    """`schema.dump(obj, many=many)`, compiled; checked against marshmallow itself under VERIFY_FAST_DUMPS."""
    result = compiled_dumper(schema).dump(obj, many=many)
    if has_app_context() and current_app.config.get("VERIFY_FAST_DUMPS"):
        verify(schema, obj, many, result)
    return result


def verify(schema, obj, many, result):
    """repr compares what JSON would tell apart and == would not: key order, 1 vs 1.0 vs True. (`obj` is read
    twice: a generator would be empty the second time; responses are lists.)"""
    expected = schema.dump(obj, many=many)
    if repr(result) != repr(expected):
        raise AssertionError(f"compiled dump of {type(schema).__name__} differs from marshmallow's:\n"
                             f"  compiled:    {result!r}\n  marshmallow: {expected!r}")


def compiled_dumper(schema):
    """The dumper of this schema instance, built once and kept on it: a cache beside it would keep every schema
    ever dumped alive (a dumper holds the schema's fields, which hold the schema), e.g. one per export. A copy
    of the schema, which Nested makes of an instance and then gives other fields, builds its own."""
    dumper = schema.__dict__.get("_compiled_dumper")
    if dumper is None or dumper.schema is not schema:
        dumper = schema._compiled_dumper = CompiledDumper(schema)
    return dumper


class CompiledDumper:
    """Dumps as `schema.dump` does. Compiled at the first dump, not here, so that a schema nesting itself
    (through a Nested field) does not compile forever."""

    def __init__(self, schema):
        self.schema = schema
        self.plan = None

    def __deepcopy__(self, memo):
        return None  # a deep copy of the schema compiles its own: this plan reads the original's fields

    def dump(self, obj, many=None):
        schema = self.schema
        many = schema.many if many is None else bool(many)
        if self.plan is None:
            self.compile()
        if self.plan is MARSHMALLOW:
            return schema.dump(obj, many=many)
        if many and obj is not None:  # as Schema._serialize: `many` with None dumps None as one object
            dumped = self.dump_rows(obj)
            return [self.dump_one(item) for item in obj] if dumped is None else dumped
        return self.dump_one(obj)

    def dump_rows(self, obj):
        """Each of a list of SQLAlchemy rows of one result, read by place; None for anything else."""
        if self.plan is None:
            self.compile()
        read_by_position = self.row_reader(obj)  # None for a schema left to marshmallow too
        if read_by_position is None:
            return None
        dump_values = self.dump_values
        return [dump_values(read_by_position(row)) for row in obj]

    def row_reader(self, obj):
        """An itemgetter of the plan's attributes by their places in the rows, when `obj` is a list of rows of one
        result (SQLAlchemy's `_parent`, the result's metadata, is then the same object) with one column of each
        name: reading a row's 11 columns by name cost 3.5 µs, by place 0.1 µs. The getter of the last result's
        metadata is kept (one tuple, replaced whole, so a racing thread reads a pair that belongs together)."""
        if self.get_attributes is None or type(obj) is not list or not obj or type(obj[0]) is not Row:
            return None
        parent = obj[0]._parent
        if any(type(row) is not Row or row._parent is not parent for row in obj):
            return None
        kept_parent, getter = self.kept_row_reader
        if kept_parent is not parent:
            fields = obj[0]._fields
            if len(fields) != len(obj[0]) or any(fields.count(name) != 1 for name in self.attributes):
                return None  # a column without a name shifts the places; two of one name: attrgetter's error
            getter = tuple_getter(itemgetter, [fields.index(name) for name in self.attributes])
            self.kept_row_reader = (parent, getter)
        return getter

    def compile(self):
        plan = build_plan(self.schema)
        self.get_attributes = self.get_items = None
        self.kept_row_reader = (None, None)
        if plan is not MARSHMALLOW and plan and all(attribute is not None for _, attribute, _ in plan):
            keys = tuple(key for key, _, _ in plan)
            converters = tuple(convert for _, _, convert in plan)
            self.dump_values = values_dumper(keys, converters)
            self.attributes = [attribute for _, attribute, _ in plan]
            self.get_attributes = tuple_getter(attrgetter, self.attributes)
            self.get_items = tuple_getter(itemgetter, self.attributes)
        self.plan = plan  # last: a thread that sees a plan sees the rest

    def dump_one(self, obj):
        """Every field read at once, in C, when marshmallow would read each one way (a dict by key, an object or
        row by attribute) and all are there; otherwise field by field, as marshmallow does (a property that
        raised AttributeError is then called again)."""
        kind = type(obj)
        read_all = self.get_items if kind is dict else self.get_attributes if read_by_attribute(kind) else None
        if read_all is not None:
            try:
                values = read_all(obj)
            except (AttributeError, KeyError):
                pass
            else:
                return self.dump_values(values)
        return self.dump_field_by_field(obj)

    def dump_field_by_field(self, obj):
        kind = type(obj)
        read = read_key if kind is dict else read_attribute if read_by_attribute(kind) else read_like_marshmallow
        result = {}
        for key, attribute, convert in self.plan:
            if attribute is None:  # a field left to marshmallow: `convert` is its own serialize
                value = convert(obj)
            else:
                value = read(obj, attribute)
                if value is missing:
                    continue
                value = convert(value)
            if value is not missing:
                result[key] = value
        return result


def values_dumper(keys, converters):
    """A function of the values read (in plan order) answering the dumped dict: one dict display built in one
    expression, generated for this schema (as dataclasses generate __init__), the plain converters inlined. A list
    page calls it per row, where a loop over keys and converters cost four times the floor's own dict of a row.
    A value that is `missing` leaves its key out, as marshmallow does: that rare case takes the loop."""
    def dump_in_a_loop(values):
        return {key: convert(value) for key, convert, value in zip(keys, converters, values) if value is not missing}

    names = [f"v{index}" for index in range(len(keys))]
    entries = ", ".join(f"{key!r}: {inlined(converter, name, index)}"
                        for index, (key, converter, name) in enumerate(zip(keys, converters, names)))
    source = (f"def dump_values(values):\n"
              f"    {', '.join(names)}, = values\n"
              f"    if {' or '.join(f'{name} is missing' for name in names)}:\n"
              f"        return dump_in_a_loop(values)\n"
              f"    return {{{entries}}}\n")
    namespace = {"missing": missing, "str": str, "type": type, "dump_in_a_loop": dump_in_a_loop,
                 **{f"c{index}": converter for index, converter in enumerate(converters)}}
    # The source is ours: field names enter only as repr() literals, the rest are names generated above.
    exec(compile(source, f"<dumper of {', '.join(keys)}>", "exec"), namespace)  # noqa: S102  # nosec B102: see above
    return namespace["dump_values"]


def inlined(converter, name, index):
    """The expression converting value `name`: the identity and text converters written out, others called."""
    if converter is same:
        return name
    if converter is dump_text:
        return f"({name} if type({name}) is str else c{index}({name}))"
    return f"c{index}({name})"


def tuple_getter(getter_type, names):
    """attrgetter/itemgetter of `names` that always answers a tuple (with one name they answer the value)."""
    getter = getter_type(*names)
    return getter if len(names) > 1 else lambda obj: (getter(obj),)


MARSHMALLOW = "marshmallow"  # the plan of a schema whose whole dump is marshmallow's


def build_plan(schema):
    """(output key, attribute, converter) per dumped field, in `dump_fields` order (the output's key order)."""
    if not dumps_plainly(schema):
        return MARSHMALLOW
    plan = []
    for name, field in schema.dump_fields.items():
        key = name if field.data_key is None else field.data_key
        attribute = name if field.attribute is None else field.attribute
        convert = converter(field) if reads_plainly(field) and "." not in attribute else None
        if convert is None:
            plan.append((key, None, marshmallow_serialize(schema, name, field)))
        else:
            plan.append((key, attribute, convert))
    return plan


def dumps_plainly(schema):
    """No hooks and none of the dump machinery overridden: Schema._serialize is all that runs."""
    kind = type(schema)
    return (not schema._hooks[PRE_DUMP] and not schema._hooks[POST_DUMP] and schema.dict_class is dict
            and kind.dump is Schema.dump and kind._serialize is Schema._serialize
            and kind.get_attribute is Schema.get_attribute)


def reads_plainly(field):
    """Field.serialize reads the attribute with the schema's accessor and, when it is missing, omits the key."""
    kind = type(field)
    return (field._CHECK_ATTRIBUTE and kind.serialize is fields.Field.serialize
            and kind.get_value is fields.Field.get_value and field.dump_default is missing)


def marshmallow_serialize(schema, name, field):
    return lambda obj: field.serialize(name, obj, accessor=schema.get_attribute)


# --- reading a value as marshmallow.utils.get_value does (no dots: dotted attributes are marshmallow's) ---

def read_by_attribute(kind):
    """Where get_value always ends in getattr: types without __getitem__, and SQLAlchemy rows, whose row["name"]
    is always a TypeError (tuple indices must be integers), which get_value answers with getattr."""
    return kind is Row or not hasattr(kind, "__getitem__")


def read_key(obj, name):
    """A dict: its item, else (as get_value falls back on KeyError) an attribute of the dict, else missing."""
    value = obj.get(name, _ABSENT)
    return getattr(obj, name, missing) if value is _ABSENT else value


def read_attribute(obj, name):
    """An object whose type has no __getitem__ (whatever the instance says, obj[name] fails), or a row."""
    return getattr(obj, name, missing)


def read_like_marshmallow(obj, name):
    """Anything else indexable (custom mappings, lists): marshmallow's own accessor."""
    return get_value(obj, name, missing)


# --- converters: what each field's _serialize does to a value read --------------------------------------

def converter(field):
    """A function of the value alone doing what the field's `_serialize` does, or None if not replicated here.
    Looked up by the `_serialize` the field runs, so a subclass that only adds validation still qualifies."""
    build = CONVERTERS.get(type(field)._serialize)
    return build(field) if build is not None else None


def same(value):
    return value


def dump_text(value):
    if type(value) is str:
        return value
    return None if value is None else ensure_text_type(value)


def dump_float(value):
    return None if value is None else float(value)


def number(field):
    if field.as_string or type(field)._format_num is not fields.Number._format_num:
        return None  # as_string and Decimal's quantizing are left to marshmallow
    num_type = field.num_type
    return lambda value: None if value is None else num_type(value)


def temporal(field):
    fmt = field.format or field.DEFAULT_FORMAT
    format_function = field.SERIALIZATION_FUNCS.get(fmt)
    if format_function is None:
        return lambda value: None if value is None else value.strftime(fmt)
    return lambda value: None if value is None else format_function(value)


class NestedDump:
    """The nested schema's compiled dumper. `field.schema` is resolved at the first dump, as marshmallow does
    (it may name a schema registered later, and applies the field's only/exclude/many)."""

    def __init__(self, field):
        self.field = field
        self.dumper = self.many = None

    def resolve(self):
        if self.dumper is None:
            schema = self.field.schema
            self.many = bool(schema.many or self.field.many)
            self.dumper = compiled_dumper(schema)  # last: a thread that sees the dumper sees `many`
        return self.dumper

    def __call__(self, value):
        dumper = self.resolve()
        return None if value is None else dumper.dump(value, many=self.many)

    def each(self, values):
        """The items of a List of this Nested field: all at once where they are rows of one result (the nested
        dumper reads them by place), else one by one, as List._serialize does."""
        dumper = self.resolve()
        dumped = None if self.many else dumper.dump_rows(values)
        return [self(value) for value in values] if dumped is None else dumped


def list_of(field):
    convert = converter(field.inner)
    if convert is None:
        return None
    if isinstance(convert, NestedDump):
        return lambda value: None if value is None else convert.each(value)
    return lambda value: None if value is None else [convert(each) for each in value]


def mapping(field):
    mapping_type = field.mapping_type
    if field.key_field is None and field.value_field is None:
        return lambda value: None if value is None else mapping_type(value)
    convert_key = same if field.key_field is None else converter(field.key_field)
    convert_value = None if field.value_field is None else converter(field.value_field)
    if convert_key is None or (field.value_field is not None and convert_value is None):
        return None
    return lambda value: None if value is None else dump_mapping(mapping_type, value, convert_key, convert_value)


def dump_mapping(mapping_type, value, convert_key, convert_value):
    """Mapping._serialize: keys converted first, then values (none given: only keys it saw, as there)."""
    keys = {key: convert_key(key) for key in value}
    result = mapping_type()
    for key, item in value.items():
        if convert_value is None:
            if key in keys:
                result[keys[key]] = item
        else:
            result[keys[key]] = convert_value(item)
    return result


# The `_serialize` a field runs -> what builds the field's converter (which may decline, answering None).
CONVERTERS = {
    fields.Field._serialize: lambda field: same,  # Raw, Boolean
    fields.String._serialize: lambda field: dump_text,  # String, Email, Url, our Text
    fields.Number._serialize: number,  # Integer, Float
    ExactDecimal._serialize: lambda field: dump_float,
    fields.DateTime._serialize: temporal,  # DateTime, AwareDateTime, NaiveDateTime, Date, Time
    fields.Nested._serialize: NestedDump,
    fields.List._serialize: list_of,
    fields.Mapping._serialize: mapping,  # Dict
}
