"""Bulk imports (POST /tracking/{bot_id}/import and /clients/{bot_id}/import): a JSON array or CSV of rows,
each created, updated or left unchanged by its code; every row checked first, one error writes nothing."""
import pytest

from conftest import dispose_app, in_app, make_app_like, make_client, make_tracking
from tracker_api.extensions import db
from tracker_api.models import Bot, Client, StatusEvent, TrackingNumber

CSV = "text/csv"


def tracking_import(http, tenant, body, content_type=CSV, **headers):
    path = f"/api/v1/tracking/{tenant.bot_id}/import"
    if isinstance(body, list):
        return http.post(path, json=body, headers={**tenant.headers, **headers})
    return http.post(path, data=body, content_type=content_type, headers={**tenant.headers, **headers})


def client_import(http, tenant, body):
    path = f"/api/v1/clients/{tenant.bot_id}/import"
    if isinstance(body, list):
        return http.post(path, json=body, headers=tenant.headers)
    return http.post(path, data=body, content_type=CSV, headers=tenant.headers)


def stored(app, bot_id):
    """Everything an import may write for a bot: its parcels, clients, history and change counter."""
    def read():
        parcels = {row.tracking_number: (row.id, row.status, row.change_seq, row.note, row.total_cost_usd)
                   for row in db.session.scalars(db.select(TrackingNumber).filter_by(bot_id=bot_id))}
        clients = {row.client_code: (row.id, row.name, row.phone, row.telegram_username, row.change_seq)
                   for row in db.session.scalars(db.select(Client).filter_by(bot_id=bot_id))}
        history = [(event.tracking_id, event.previous_status, event.status, event.source, event.api_key_id)
                   for event in db.session.scalars(db.select(StatusEvent).filter_by(bot_id=bot_id)
                                                   .order_by(StatusEvent.id))]
        return {"parcels": parcels, "clients": clients, "history": history,
                "change_seq": db.session.get(Bot, bot_id).change_seq}
    return in_app(app, read)


def results_of(response):
    return [(row["row"], row["result"]) for row in response.get_json()["results"]]


def test_a_json_array_creates_parcels_with_import_history(app, http, tenant):
    rows = [{"tracking_number": "IMP000001", "client_code": "CLIENT123", "weight_kg": 2.5, "price_per_kg_usd": 10},
            {"tracking_number": "IMP000002", "client_code": "CLIENT123", "status": "in_transit"}]
    response = tracking_import(http, tenant, rows)

    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    assert answer["counts"] == {"created": 2, "updated": 0, "unchanged": 0, "errors": 0}
    assert results_of(response) == [(1, "created"), (2, "created")]
    data = stored(app, tenant.bot_id)
    assert [answer["results"][i]["id"] for i in (0, 1)] == [data["parcels"][n][0] for n in ("IMP000001", "IMP000002")]
    assert data["parcels"]["IMP000001"][4] == 25  # total derived as a single create derives it
    assert [(previous, status, source, key) for _, previous, status, source, key in data["history"]] == \
        [(None, "pending", "import", tenant.key_id), (None, "in_transit", "import", tenant.key_id)]
    # numbered in input order, one change number each
    assert sorted((seq, n) for n, (_, _, seq, _, _) in data["parcels"].items()) == \
        [(data["change_seq"] - 1, "IMP000001"), (data["change_seq"], "IMP000002")]


def test_a_csv_of_clients_with_a_byte_order_mark_and_empty_cells(app, http, tenant):
    body = "\ufeffclient_code,name,phone,telegram_username,telegram_id\r\n" \
           "CLIENT001,Алия Нурланова,+77011234567,@aliya_n,512345678\r\n" \
           "CLIENT002,,,,\r\n\r\n"
    response = client_import(http, tenant, body.encode())

    assert response.status_code == 200, response.get_json()
    assert results_of(response) == [(1, "created"), (2, "created")]
    clients = stored(app, tenant.bot_id)["clients"]
    assert clients["CLIENT001"][1:4] == ("Алия Нурланова", "+77011234567", "aliya_n")
    assert clients["CLIENT002"][1:4] == (None, None, None)


def test_a_csv_with_good_duplicate_and_broken_rows_is_refused_whole_then_the_fixed_csv_imports(app, http, tenant):
    """The issue's named case: 422 with every row's result and nothing written; then the fixed file."""
    make_tracking(app, tenant.bot_id, tracking_number="OLD000001", status="pending", note="keep me")
    make_tracking(app, tenant.bot_id, tracking_number="OLD000002", status="pending", quantity=5)
    before = stored(app, tenant.bot_id)
    broken = ("tracking_number,client_code,status,quantity\n"
              "NEW000001,CLIENT123,pending,1\n"      # good
              "OLD000001,CLIENT123,delivered,\n"     # good (an update)
              "NEW000001,CLIENT456,pending,2\n"      # the same number again
              "NEW000002,CLIENT123,lost,x\n"         # an unknown status and a quantity that is no number
              "NEW000003,,pending,1\n")              # no client_code
    response = tracking_import(http, tenant, broken)

    assert response.status_code == 422 and response.content_type == "application/problem+json"
    problem = response.get_json()
    assert problem["type"] == "/problems/import-rejected" and "nothing was imported" in problem["detail"]
    assert results_of(response) == [(1, "valid"), (2, "valid"), (3, "error"), (4, "error"), (5, "error")]
    errors = {row["row"]: row["errors"] for row in problem["results"] if row["result"] == "error"}
    assert "Row 1 already has NEW000001" in errors[3]["tracking_number"][0]
    assert set(errors[4]) == {"status", "quantity"} and set(errors[5]) == {"client_code"}
    assert problem["counts"] == {"valid": 2, "errors": 3}
    assert problem["errors"]["row 4"] == errors[4]
    assert stored(app, tenant.bot_id) == before

    fixed = ("tracking_number,client_code,status,quantity\n"
             "NEW000001,CLIENT123,pending,1\n"
             "OLD000001,CLIENT123,delivered,\n"
             "NEW000002,CLIENT123,in_transit,3\n"
             "OLD000002,CLIENT123,pending,5\n")    # exactly as stored
    response = tracking_import(http, tenant, fixed)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["counts"] == {"created": 2, "updated": 1, "unchanged": 1, "errors": 0}
    assert results_of(response) == [(1, "created"), (2, "updated"), (3, "created"), (4, "unchanged")]
    after = stored(app, tenant.bot_id)
    old_id = before["parcels"]["OLD000001"][0]
    assert after["parcels"]["OLD000001"][1:4:2] == ("delivered", "keep me")  # fields not given keep their values
    assert (old_id, "pending", "delivered", "import", tenant.key_id) in after["history"]
    assert after["change_seq"] == before["change_seq"] + 3  # three rows written, the unchanged one not numbered


def test_unchanged_rows_write_nothing(app, http, tenant):
    rows = [{"tracking_number": "SAME00001", "client_code": "CLIENT123", "note": "n"},
            {"tracking_number": "SAME00002", "client_code": "CLIENT123", "status": "delivered"}]
    assert tracking_import(http, tenant, rows).status_code == 200
    before = stored(app, tenant.bot_id)
    updated_at = in_app(app, lambda: [row.updated_at for row in db.session.scalars(db.select(TrackingNumber))])

    response = tracking_import(http, tenant, rows)
    assert response.get_json()["counts"] == {"created": 0, "updated": 0, "unchanged": 2, "errors": 0}
    assert [row["id"] for row in response.get_json()["results"]] == \
        [before["parcels"][n][0] for n in ("SAME00001", "SAME00002")]
    assert stored(app, tenant.bot_id) == before  # no change number, no history row
    assert in_app(app, lambda: [row.updated_at for row in db.session.scalars(db.select(TrackingNumber))]) == \
        updated_at


def test_a_client_update_replaces_only_the_fields_given(app, http, tenant):
    make_client(app, tenant.bot_id, "CLIENT123", name="Old Name", phone="+77010000000")
    response = client_import(http, tenant, [{"client_code": "CLIENT123", "name": "New Name"}])
    assert results_of(response) == [(1, "updated")]
    assert stored(app, tenant.bot_id)["clients"]["CLIENT123"][1:3] == ("New Name", "+77010000000")


def test_more_rows_than_the_maximum_is_a_413_naming_it_and_writes_nothing(app, tenant):
    small = make_app_like(app, IMPORT_MAX_ROWS=3)
    try:
        http = small.test_client()
        rows = "".join(f"CLIENT{n:03d}\n" for n in range(4))
        response = client_import(http, tenant, "client_code\n" + rows)
        assert response.status_code == 413 and response.content_type == "application/problem+json"
        assert response.get_json()["max_rows"] == 3 and "at most 3 rows" in response.get_json()["detail"]
        json_rows = [{"client_code": f"CLIENT{n:03d}"} for n in range(4)]
        assert client_import(http, tenant, json_rows).status_code == 413
        assert stored(app, tenant.bot_id)["clients"] == {}
    finally:
        dispose_app(small)


def test_the_default_maximum_of_1000_typical_csv_rows_fits_in_the_body_limit(app, http, tenant):
    header = "tracking_number,client_code,status,quantity,weight_kg,price_per_kg_usd,note\n"
    body = header + "".join(f"BULK{n:06d},CLIENT{n % 50:03d},in_transit,2,12.345,14.29,Хрупкое, до 2 кг\n"
                            .replace("Хрупкое, до 2 кг", '"Хрупкое, до 2 кг"') for n in range(1000))
    assert len(body.encode()) < app.config["MAX_CONTENT_LENGTH"]
    response = tracking_import(http, tenant, body)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["counts"]["created"] == 1000


def test_a_retry_with_the_same_idempotency_key_replays_the_results(app, http, tenant):
    body = "client_code,name\nCLIENT001,First\nCLIENT002,Second\n"
    path = f"/api/v1/clients/{tenant.bot_id}/import"
    headers = {**tenant.headers, "Idempotency-Key": "crm-import-0001"}
    first = http.post(path, data=body, content_type=CSV, headers=headers)
    retried = http.post(path, data=body, content_type=CSV, headers=headers)

    assert first.status_code == retried.status_code == 200
    assert retried.headers["Idempotent-Replayed"] == "true"
    assert retried.get_json() == first.get_json()
    assert first.get_json()["counts"]["created"] == 2  # a run, not a replay, would say unchanged
    assert http.post(path, data=body, content_type=CSV, headers=tenant.headers).get_json()["counts"]["unchanged"] == 2


@pytest.mark.parametrize("body, content_type, status", [
    ("client_code=CLIENT1", "application/x-www-form-urlencoded", 415),
    ('{"client_code": "CLIENT1"}', "application/json", 422),
    ("[]", "application/json", 422),
    ("[{", "application/json", 400),
    (b"client_code\n\x98\n", CSV, 400),  # neither UTF-8 nor windows-1251 (0x98 is unassigned there)
    (b"client_code\n\xff\xfe\n", CSV + "; charset=utf-8", 400),  # not the charset it declares
    ("client_code\n", CSV, 422),
    ("client_code,client_code\nA1,A2\n", CSV, 422),
])
def test_a_body_that_is_not_a_list_of_rows_is_a_problem(app, http, tenant, body, content_type, status):
    response = http.post(f"/api/v1/clients/{tenant.bot_id}/import", data=body, content_type=content_type,
                         headers=tenant.headers)
    assert response.status_code == status and response.content_type == "application/problem+json"


def test_row_errors_use_the_single_create_rules(app, http, tenant):
    rows = [{"client_code": "CLIENT1", "bot_id": 456}, "not an object", {"client_code": "bad code!"}]
    response = client_import(http, tenant, rows)
    errors = [row.get("errors") for row in response.get_json()["results"]]
    single = http.post(f"/api/v1/clients/{tenant.bot_id}", json=rows[0], headers=tenant.headers).get_json()
    assert errors[0] == single["errors"] == {"bot_id": ["Unknown field."]}
    assert errors[1] and errors[2]["client_code"]
    csv_extra_cell = client_import(http, tenant, "client_code\nCLIENT1,extra\n").get_json()
    assert csv_extra_cell["results"][0]["errors"] == {"_row": ["More cells than the header has columns."]}


def test_a_derived_total_too_large_rejects_the_import(app, http, tenant):
    make_tracking(app, tenant.bot_id, tracking_number="HEAVY0001", weight_kg=9999999, price_per_kg_usd=None,
                  total_cost_usd=None)
    response = tracking_import(http, tenant, [{"tracking_number": "NEW0000001", "client_code": "CLIENT123"},
                                              {"tracking_number": "HEAVY0001", "client_code": "CLIENT123",
                                               "price_per_kg_usd": 99999}])
    assert response.status_code == 422
    assert response.get_json()["results"][1]["errors"]["total_cost_usd"]
    assert "NEW0000001" not in stored(app, tenant.bot_id)["parcels"]


# --- the example the guide quotes, against a real server ------------------------------------------------------

from test_examples import example_env, interpreter, new_key, run, server  # noqa: E402,F401  (server: a fixture)


@pytest.mark.slow
def test_the_import_example_imports_the_sample_csv_and_shows_a_refused_file_s_errors(server, tmp_path):
    key = new_key(server)
    result = run(interpreter("import_csv.py") + ["examples/clients.csv"], example_env(server.api_url, key))
    assert result.returncode == 0, result.stdout + result.stderr
    # the demo bot has CLIENT123 with other contact fields: updated; the two others are new
    assert result.stdout == "Imported examples/clients.csv: 2 created, 1 updated, 0 unchanged\n"
    replayed = run(interpreter("import_csv.py") + ["examples/clients.csv"], example_env(server.api_url, key))
    assert replayed.stdout == result.stdout  # the same Idempotency-Key: the first answer, not a second run

    broken = tmp_path / "broken.csv"
    broken.write_text("client_code,phone\nCLIENT301,+77010000000\nCLIENT301,\nCLIENT302,call me\n")
    refused = run(interpreter("import_csv.py") + [str(broken)], example_env(server.api_url, key))
    assert refused.returncode == 1
    assert refused.stdout.startswith("2 of 3 rows have errors (first: row 2); nothing was imported.")
    assert "  row 2: {'client_code': ['Row 1 already has CLIENT301" in refused.stdout
    assert "  row 3: {'phone': [" in refused.stdout


def test_a_retry_after_a_committed_import_lost_its_answer_says_so_instead_of_a_wrong_answer(app, http, tenant,
                                                                                             monkeypatch):
    from sqlalchemy.exc import SQLAlchemyError

    from tracker_api.writes import idempotency

    def storing_fails(claim, response):
        raise SQLAlchemyError("the answer could not be stored")
    headers = {**tenant.headers, "Idempotency-Key": "crm-import-lost"}
    path, rows = f"/api/v1/tracking/{tenant.bot_id}/import", [{"tracking_number": "LOST1", "client_code": "C1"}]
    with monkeypatch.context() as patch:
        patch.setattr(idempotency, "complete", storing_fails)
        assert http.post(path, json=rows, headers=headers).status_code == 200
    retried = http.post(path, json=rows, headers=headers)
    assert retried.status_code == 409 and retried.get_json()["type"] == "/problems/idempotency-answer-lost"
    assert len(stored(app, tenant.bot_id)["parcels"]) == 1
