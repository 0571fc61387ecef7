"""How exported records become bytes: CSV (RFC 4180, safe to open in a spreadsheet) or NDJSON (the API's JSON).

Both take the resource's own API schema, so an export has the fields, names and values a GET returns. CSV
differs in two ways only: decimals are the stored exact values with their fixed places (`10.500`, `150.00`)
rather than JSON numbers, and null is an empty cell.
"""
import csv
import io
import json
import re

import marshmallow as ma

from ...serialization import dumping

# OWASP "CSV Injection": a cell starting with one of these is run as a formula by Excel and LibreOffice.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# ...unless it is only a signed number (a phone number in E.164, +77011234567), which no spreadsheet can run.
PLAIN_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")
BYTE_ORDER_MARK = "\ufeff"


def neutralise(value):
    """Text a spreadsheet would take for a formula gets a leading single quote; numbers are never touched."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS) and not PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


class CsvEncoder:
    media_type = "text/csv"
    content_type = "text/csv; charset=utf-8"
    extension = "csv"

    def __init__(self, schema, bom=False):
        self.schema = schema
        self.columns = list(schema.fields)
        # The exact stored Decimal, not the float the JSON schema dumps.
        self.exact = {name: field.attribute or name for name, field in schema.fields.items()
                      if isinstance(field, ma.fields.Decimal)}
        self.bom = bom

    def header(self):
        return (BYTE_ORDER_MARK if self.bom else "").encode() + self._lines([self.columns])

    def encode(self, records):
        dumped = dumping.dump(self.schema, records, many=True)
        return self._lines([[neutralise(getattr(record, self.exact[name]) if name in self.exact else data[name])
                             for name in self.columns] for record, data in zip(records, dumped)])

    @staticmethod
    def _lines(rows):
        """The rows through csv.writer's default (Excel) dialect: commas, quotes where needed, CRLF line ends."""
        buffer = io.StringIO()
        csv.writer(buffer).writerows(rows)
        return buffer.getvalue().encode()


class NdjsonEncoder:
    media_type = content_type = "application/x-ndjson"
    extension = "ndjson"

    def __init__(self, schema, bom=False):
        self.schema = schema  # a byte order mark is not JSON: `bom` is for CSV only

    def header(self):
        return b""

    def encode(self, records):
        # json.dumps escapes any newline inside a string, so one record is always exactly one line.
        return "".join(json.dumps(item, ensure_ascii=False, separators=(",", ":")) + "\n"
                       for item in dumping.dump(self.schema, records, many=True)).encode()


ENCODERS = {"csv": CsvEncoder, "ndjson": NdjsonEncoder}
