"""Exports: GET /api/v1/export/{bot_id}/tracking and /clients stream every record of the bot, oldest first, as CSV
or NDJSON; the filters, the format negotiation, CSV injection, errors before and during the stream, and the
memory a real gunicorn worker needs for 10,000 and 100,000 rows."""
import csv
import io
import json
import logging
import time
from decimal import Decimal

import pytest
import requests
from sqlalchemy import event, insert
from sqlalchemy.exc import OperationalError

from conftest import in_app, make_client, make_tenant, make_tracking
from servers import Gunicorn, clean_env, worker_pids
from tracker_api.extensions import db
from tracker_api.models import TrackingNumber
from tracker_api.models.types import utcnow
from tracker_api.resources.export import formats, service

TRACKING_COLUMNS = ["id", "tracking_number", "client_code", "current_status", "quantity", "weight_kg",
                    "price_per_kg_usd", "total_cost_usd", "note", "created_at", "updated_at"]
CLIENT_COLUMNS = ["id", "client_code", "name", "phone", "telegram_username", "telegram_id", "created_at",
                  "updated_at"]
PROBLEM = "application/problem+json"


def tracking_path(bot_id):
    return f"/api/v1/export/{bot_id}/tracking"


def clients_path(bot_id):
    return f"/api/v1/export/{bot_id}/clients"


def csv_rows(response):
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.content_type == "text/csv; charset=utf-8"
    return list(csv.reader(io.StringIO(response.get_data(as_text=True), newline="")))


def ndjson_items(response):
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/x-ndjson"
    body = response.get_data(as_text=True)
    assert body == "" or body.endswith("\n")
    return [json.loads(line) for line in body.splitlines()]


@pytest.fixture
def parcels(app, tenant):
    """Three parcels of bot 123: full (Cyrillic note, exact decimals), all optional fields null, another client."""
    full = make_tracking(app, tenant.bot_id, weight_kg=Decimal("10.5"), price_per_kg_usd=Decimal("14.29"),
                         total_cost_usd=Decimal("150.05"), note="Хрупкое, «стекло»")
    empty = make_tracking(app, tenant.bot_id, tracking_number="XYZ-2", status="delivered", quantity=1,
                          weight_kg=None, price_per_kg_usd=None, total_cost_usd=None, note=None)
    other = make_tracking(app, tenant.bot_id, tracking_number="XYZ-3", client_code="CLIENT456", status="delivered",
                          weight_kg=Decimal("0.001"), total_cost_usd=Decimal("9999999999.99"))
    return [full, empty, other]


def api_json(http, tenant, path):
    response = http.get(path, headers=tenant.headers)
    assert response.status_code == 200
    return response.get_json()


# --- contents -----------------------------------------------------------------------------------------------

def test_csv_has_a_header_and_every_tracking_number_oldest_first_with_exact_values(http, tenant, parcels):
    response = http.get(tracking_path(tenant.bot_id), headers=tenant.headers)
    rows = csv_rows(response)
    times = [api_json(http, tenant, f"/api/v1/tracking/{tenant.bot_id}/{id_}") for id_ in parcels]
    assert rows == [
        TRACKING_COLUMNS,
        [str(parcels[0]), "ABC123456", "CLIENT123", "pending", "5", "10.500", "14.29", "150.05",
         "Хрупкое, «стекло»", times[0]["created_at"], times[0]["updated_at"]],
        [str(parcels[1]), "XYZ-2", "CLIENT123", "delivered", "1", "", "", "", "", times[1]["created_at"],
         times[1]["updated_at"]],
        [str(parcels[2]), "XYZ-3", "CLIENT456", "delivered", "5", "0.001", "14.29", "9999999999.99", "Хрупкое",
         times[2]["created_at"], times[2]["updated_at"]],
    ]
    assert times[0]["created_at"].endswith("+00:00")
    assert response.get_data().startswith(b"id,tracking_number,")  # no byte order mark unless asked for
    assert response.get_data().count(b"\r\n") == 4  # RFC 4180 line ends


def test_ndjson_has_one_line_per_tracking_number_exactly_as_the_api_gives_it(http, tenant, parcels):
    response = http.get(tracking_path(tenant.bot_id), headers=tenant.headers, query_string={"format": "ndjson"})
    expected = [api_json(http, tenant, f"/api/v1/tracking/{tenant.bot_id}/{id_}") for id_ in parcels]
    assert ndjson_items(response) == expected
    assert list(expected[0]) == TRACKING_COLUMNS and expected[1]["weight_kg"] is None
    assert "Хрупкое".encode() in response.get_data()  # UTF-8 text, not \u escapes


def test_clients_export_as_csv_and_ndjson(app, http, tenant):
    ids = [make_client(app, tenant.bot_id, "CLIENT123", phone="+77011234567", telegram_username="aliya_n",
                       telegram_id=512345678),
           make_client(app, tenant.bot_id, "CLIENT456", name=None)]
    clients = [api_json(http, tenant, f"/api/v1/clients/{tenant.bot_id}/{id_}") for id_ in ids]
    rows = csv_rows(http.get(clients_path(tenant.bot_id), headers=tenant.headers))
    assert rows == [CLIENT_COLUMNS,
                    [str(ids[0]), "CLIENT123", "Алия Нурланова", "+77011234567", "aliya_n", "512345678",
                     clients[0]["created_at"], clients[0]["updated_at"]],
                    [str(ids[1]), "CLIENT456", "", "", "", "", clients[1]["created_at"], clients[1]["updated_at"]]]
    response = http.get(clients_path(tenant.bot_id), headers=tenant.headers, query_string={"format": "ndjson"})
    assert ndjson_items(response) == clients


def test_an_empty_export_is_a_header_row_or_an_empty_body(http, tenant):
    assert csv_rows(http.get(tracking_path(tenant.bot_id), headers=tenant.headers)) == [TRACKING_COLUMNS]
    assert csv_rows(http.get(clients_path(tenant.bot_id), headers=tenant.headers)) == [CLIENT_COLUMNS]
    assert ndjson_items(http.get(tracking_path(tenant.bot_id), headers=tenant.headers,
                                 query_string={"format": "ndjson"})) == []


def test_bom_true_starts_the_csv_with_a_utf8_byte_order_mark(http, tenant, parcels):
    response = http.get(tracking_path(tenant.bot_id), headers=tenant.headers, query_string={"bom": "true"})
    assert response.get_data().startswith(b"\xef\xbb\xbfid,tracking_number,")
    ndjson = http.get(tracking_path(tenant.bot_id), headers=tenant.headers,
                      query_string={"bom": "true", "format": "ndjson"})
    assert ndjson.get_data().startswith(b"{")  # a BOM is not JSON: CSV only


# --- filters --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("query, expected", [
    ({"status_filter": "delivered"}, ["XYZ-2", "XYZ-3"]),
    ({"client_code": "CLIENT456"}, ["XYZ-3"]),
    ({"status_filter": "delivered", "client_code": "CLIENT123"}, ["XYZ-2"]),
    ({"status_filter": "cancelled"}, []),
    ({"page": 2, "page_size": 1}, ["ABC123456", "XYZ-2", "XYZ-3"]),  # no paging: unknown parameters are ignored
])
def test_filters_are_the_lists_own(http, tenant, parcels, query, expected):
    response = http.get(tracking_path(tenant.bot_id), headers=tenant.headers, query_string=query)
    assert [row[1] for row in csv_rows(response)[1:]] == expected


@pytest.mark.parametrize("query, field", [
    ({"status_filter": "lost"}, "status_filter"), ({"client_code": "<b>"}, "client_code"),
    ({"format": "xml"}, "format"), ({"bom": "yes"}, "bom"),
])
def test_a_bad_parameter_is_a_422_problem_before_anything_is_streamed(http, tenant, parcels, query, field):
    response = http.get(tracking_path(tenant.bot_id), headers=tenant.headers, query_string=query)
    assert response.status_code == 422 and response.content_type == PROBLEM
    assert field in response.get_json()["errors"]


# --- format negotiation ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("accept, query, media_type", [
    (None, {}, "text/csv"),
    ("*/*", {}, "text/csv"),
    ("text/csv", {}, "text/csv"),
    ("application/x-ndjson", {}, "application/x-ndjson"),
    ("application/json;q=1, application/x-ndjson;q=0.5, text/csv;q=0.1", {}, "application/x-ndjson"),
    ("text/*", {}, "text/csv"),
    ("text/csv", {"format": "ndjson"}, "application/x-ndjson"),  # format wins
    ("application/json", {"format": "csv"}, "text/csv"),
])
def test_the_format_comes_from_the_format_parameter_then_accept_then_csv(http, tenant, parcels, accept, query,
                                                                         media_type):
    headers = {**tenant.headers, **({"Accept": accept} if accept else {})}
    response = http.get(tracking_path(tenant.bot_id), headers=headers, query_string=query)
    assert response.status_code == 200 and response.mimetype == media_type
    extension = "csv" if media_type == "text/csv" else "ndjson"
    assert response.headers["Content-Disposition"] == f'attachment; filename="tracking-{tenant.bot_id}.{extension}"'


@pytest.mark.parametrize("path", [tracking_path, clients_path])
def test_an_accept_header_without_csv_or_ndjson_is_a_406_problem(http, tenant, path):
    response = http.get(path(tenant.bot_id), headers={**tenant.headers, "Accept": "application/json"})
    assert response.status_code == 406 and response.content_type == PROBLEM
    assert "format=csv" in response.get_json()["detail"]


def test_the_response_carries_request_id_rate_limit_and_security_headers(limited_http, tenant, parcels):
    response = limited_http.get(clients_path(tenant.bot_id), headers=tenant.headers)
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] and response.headers["X-RateLimit-Limit"] == "5"
    assert response.headers["X-RateLimit-Remaining"] == "4" and response.headers["X-RateLimit-Reset"]
    assert response.headers["Cache-Control"] == "no-store" and response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Length" not in response.headers  # streamed (chunked), never built in memory


# --- isolation ---------------------------------------------------------------------------------------------------

def test_another_bots_records_never_appear_and_its_exports_are_refused(app, http, tenant, other_tenant, parcels):
    make_tracking(app, other_tenant.bot_id, tracking_number="RIVAL-SECRET-7734", client_code="CLIENT123",
                  note="rival-private-note")
    make_client(app, other_tenant.bot_id, "RIVALVIP0042", name="Zhanibek Secretov")
    for path in (tracking_path, clients_path):
        for query in ({}, {"format": "ndjson"}, {"client_code": "CLIENT123"}, {"status_filter": "pending"}):
            body = http.get(path(tenant.bot_id), headers=tenant.headers, query_string=query).get_data(as_text=True)
            assert "RIVAL" not in body and "rival" not in body and "Secretov" not in body
        refused = http.get(path(other_tenant.bot_id), headers=tenant.headers)
        assert refused.status_code == 403 and refused.content_type == PROBLEM
        assert "RIVAL" not in refused.get_data(as_text=True)


# --- CSV injection --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("note, cell", [
    ("=HYPERLINK(\"http://evil.example\",\"x\")", "'=HYPERLINK(\"http://evil.example\",\"x\")"),
    ("+SUM(1,2)", "'+SUM(1,2)"), ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1+1", "'\t=1+1"), ("\r=1+1", "'\r=1+1"),
    ("-12.5", "-12.5"), ("+77011234567", "+77011234567"),  # a bare number cannot run: left as it is
    ("a=b", "a=b"), ("Хрупкое", "Хрупкое"),
])
def test_csv_cells_a_spreadsheet_would_run_get_a_leading_quote(app, http, tenant, note, cell):
    make_tracking(app, tenant.bot_id, note=note, client_code="CLIENT123")
    rows = csv_rows(http.get(tracking_path(tenant.bot_id), headers=tenant.headers))
    assert rows[1][TRACKING_COLUMNS.index("note")] == cell
    assert rows[1][TRACKING_COLUMNS.index("quantity")] == "5"  # numbers are never prefixed
    ndjson = ndjson_items(http.get(tracking_path(tenant.bot_id), headers=tenant.headers,
                                   query_string={"format": "ndjson"}))
    assert ndjson[0]["note"] == note  # NDJSON is data for programs: unchanged


def test_a_client_phone_and_name_are_neutralised_only_when_they_could_run(app, http, tenant):
    make_client(app, tenant.bot_id, "CLIENT123", name="=cmd|' /C calc'!A0", phone="+7 701 123-45-67")
    rows = csv_rows(http.get(clients_path(tenant.bot_id), headers=tenant.headers))
    assert rows[1][2:4] == ["'=cmd|' /C calc'!A0", "'+7 701 123-45-67"]


# --- batches, and errors before and during the stream -----------------------------------------------------------------

def test_records_are_read_in_keyset_batches_without_offset(app, http, tenant, monkeypatch):
    monkeypatch.setattr(service, "BATCH_SIZE", 2)
    ids = [make_tracking(app, tenant.bot_id, tracking_number=f"KEYSET{n}") for n in range(5)]
    statements = []

    def remember(conn, cursor, statement, parameters, context, executemany):
        if "FROM tracking_numbers" in statement:
            # SQLite's dialect always writes `LIMIT ? OFFSET ?`, with an offset of 0.
            offset = parameters[-1] if " OFFSET ?" in statement else 0
            statements.append((statement.replace(" OFFSET ?", ""), offset))

    engine = in_app(app, lambda: db.engine)
    event.listen(engine, "before_cursor_execute", remember)
    try:
        rows = csv_rows(http.get(tracking_path(tenant.bot_id), headers=tenant.headers))
    finally:
        event.remove(engine, "before_cursor_execute", remember)
    assert [int(row[0]) for row in rows[1:]] == ids
    assert len(statements) == 3  # 2 + 2 + 1: a short batch is the last
    for statement, offset in statements:
        assert "tracking_numbers.id >" in statement and "ORDER BY tracking_numbers.id" in statement
        assert "LIMIT" in statement and "OFFSET" not in statement and offset == 0


def test_an_unreachable_database_before_the_stream_is_the_documented_503(app, http, tenant, monkeypatch):
    def lost(statement, model):
        raise OperationalError("SELECT", {}, Exception("server closed the connection unexpectedly"))
        yield  # a generator, as the real one

    monkeypatch.setattr(service, "keyset_batches", lost)
    response = http.get(tracking_path(tenant.bot_id), headers=tenant.headers)
    assert response.status_code == 503 and response.content_type == PROBLEM
    assert response.headers["Retry-After"] == "5"


def test_a_failure_mid_stream_is_logged_and_cuts_the_body_short(app, http, tenant, monkeypatch, caplog):
    monkeypatch.setattr(service, "BATCH_SIZE", 2)
    for n in range(5):
        make_tracking(app, tenant.bot_id, tracking_number=f"CUT{n}")
    encode, calls = formats.CsvEncoder.encode, []

    def fail_on_the_second_batch(self, records):
        calls.append(len(records))
        if len(calls) == 2:
            raise RuntimeError("disk on fire")
        return encode(self, records)

    monkeypatch.setattr(formats.CsvEncoder, "encode", fail_on_the_second_batch)
    response = http.get(tracking_path(tenant.bot_id), headers=tenant.headers)
    assert response.status_code == 200  # already sent when the failure came
    with caplog.at_level(logging.ERROR, logger=service.__name__), pytest.raises(RuntimeError, match="disk on fire"):
        response.get_data()
    assert f"export tracking-{tenant.bot_id} failed after 2 rows" in caplog.text
    assert response.headers["X-Request-ID"] in caplog.text


# --- memory, through a real gunicorn worker ------------------------------------------------------------------------

NOTE = "Хрупкое: стекло и электроника, не переворачивать; звонить получателю заранее. " * 2  # ~300 bytes of UTF-8
MEGABYTE = 1024 * 1024


def insert_parcels(bot_id, count, chunk=10_000):
    """`count` parcels by SQLAlchemy core executemany: one in ten delivered, one in a thousand cancelled."""
    now = utcnow()
    for start in range(0, count, chunk):
        rows = [{"bot_id": bot_id, "tracking_number": f"BULK{n:07d}", "client_code": f"CLIENT{n % 500}",
                 "status": "delivered" if n % 10 == 0 else "cancelled" if n % 1000 == 1 else "in_transit",
                 "quantity": 1 + n % 5, "weight_kg": Decimal("12.345"), "price_per_kg_usd": Decimal("4.10"),
                 "total_cost_usd": Decimal("50.61"), "note": NOTE, "created_at": now, "updated_at": now}
                for n in range(start, min(start + chunk, count))]
        db.session.execute(insert(TrackingNumber), rows)
    db.session.commit()


def peak_rss(pid):
    """The process's peak resident set (VmHWM), in bytes."""
    with open(f"/proc/{pid}/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024


def download(url, key, **params):
    """(rows, bytes, seconds) of one export, read in 1 MiB pieces as an integrator would."""
    started, size, lines = time.monotonic(), 0, 0
    with requests.get(url, headers={"X-API-Key": key}, params=params, stream=True, timeout=120) as response:
        assert response.status_code == 200, response.text[:300]
        for piece in response.iter_content(MEGABYTE):
            size += len(piece)
            lines += piece.count(b"\n")
    return lines - 1, size, time.monotonic() - started  # the header row is no record


@pytest.mark.slow
def test_a_100000_row_export_runs_in_the_memory_of_a_10000_row_one(postgresql_only_app, tmp_path, capsys):
    app = postgresql_only_app
    tenant = make_tenant(app, 123, "Demo Cargo", "@demo_cargo_bot")
    started = time.monotonic()
    in_app(app, insert_parcels, tenant.bot_id, 100_000)
    inserted = time.monotonic() - started
    env = clean_env(DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"], API_KEY_PEPPER=app.config["API_KEY_PEPPER"])
    gunicorn = Gunicorn(tmp_path, env, 1, "--worker-class", "gthread", "--threads", "4")
    try:
        (worker,) = worker_pids(gunicorn.process.pid)
        url = f"{gunicorn.url}{tracking_path(tenant.bot_id)}"
        assert download(url, tenant.key, status_filter="cancelled")[0] == 100  # warm-up: imports, caches, pool
        before = peak_rss(worker)
        small = download(url, tenant.key, status_filter="delivered")
        after_small = peak_rss(worker)
        large = download(url, tenant.key)
        after_large = peak_rss(worker)
    finally:
        gunicorn.stop()
    with capsys.disabled():
        print(f"\nexport memory: {inserted:.1f} s to insert 100,000 rows; worker peak RSS {before / MEGABYTE:.1f} MiB "
              f"after a warm-up")
        for (rows, size, seconds), peak in ((small, after_small), (large, after_large)):
            print(f"  {rows:>7,} rows  {size / MEGABYTE:6.1f} MiB  {seconds:5.1f} s  peak RSS "
                  f"{peak / MEGABYTE:.1f} MiB (+{(peak - before) / MEGABYTE:.1f} MiB)")
    assert (small[0], large[0]) == (10_000, 100_000)
    assert large[1] > 30 * MEGABYTE  # the body is far larger than the bound below
    assert after_large - before < 30 * MEGABYTE
    # Ten times the rows, (almost) no more memory: 100,000 rows need at most 8 MiB more than 10,000 did (measured:
    # 2-4 MiB of allocator noise), where a body built in memory would need its ~35 MiB more at least.
    assert after_large - after_small < 8 * MEGABYTE
