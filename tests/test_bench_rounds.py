"""The pure parts of `make bench`'s comparison with the peers (bench/rounds.py, bench/peers.py): who runs when, the
medians, the API's ratio to the fastest peer against issue 21's targets, the peers' data and server settings.

Nothing here starts a server or wrk: the comparison itself runs in `make bench` only.
"""
import runpy
import sys
from collections import Counter
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))
import peers  # noqa: E402
import rounds  # noqa: E402

sys.path.remove(str(BENCH))
FLOOR_DATA = BENCH.parent.parent / "shared" / "bench" / "floor_data.sql"
NAMES = [system.name for system in rounds.SYSTEMS]
KEYS = [compared.key for compared in rounds.COMPARED]


def run(rps, p50=10.0, p99=20.0, non_2xx=0):
    return {"rps": rps, "p50_ms": p50, "p99_ms": p99, "non_2xx": non_2xx, "socket_errors": 0, "timeouts": 0,
            "load": 1.0}


def test_every_round_runs_every_system_once_per_scenario():
    runs = rounds.schedule(NAMES, KEYS, 3)
    assert len(runs) == 3 * len(KEYS) * len(NAMES)
    assert Counter((round_index, key) for round_index, key, _ in runs) == {
        (round_index, key): len(NAMES) for round_index in range(3) for key in KEYS}
    assert set(Counter(runs).values()) == {1}
    assert [round_index for round_index, _, _ in runs] == sorted(round_index for round_index, _, _ in runs)


def test_the_order_rotates_so_that_no_system_always_goes_first():
    firsts = [rounds.rotation(NAMES, round_index, 0)[0] for round_index in range(len(NAMES))]
    assert sorted(firsts) == sorted(NAMES)
    assert rounds.rotation(NAMES, 1, 0) == NAMES[1:] + NAMES[:1]
    assert rounds.rotation(NAMES, 0, 1) == rounds.rotation(NAMES, 1, 0)  # each scenario starts one place on
    assert sorted(rounds.rotation(NAMES, 2, 3)) == sorted(NAMES)


def test_medians_over_rounds_and_errors_summed():
    figures = rounds.medians([run(100, 5, 30), run(300, 9, 10, non_2xx=2), run(200, 7, 20)])
    assert (figures["rps"], figures["p50_ms"], figures["p99_ms"], figures["errors"]) == (200, 7, 20, 2)
    assert figures["rounds_rps"] == [100, 300, 200]


def summary_of(rps_by_key, **tweaks):
    """A summary whose API has the first req/s of each scenario, the peers the others."""
    runs = {(key, name): [run(rps)] for key, values in rps_by_key.items() for name, rps in zip(NAMES, values)}
    runs.update(tweaks)
    return rounds.summarise(runs)


def test_the_api_is_divided_by_the_fastest_peer_and_judged_on_the_issues_targets():
    summary = summary_of({"list small": (400, 150, 100, 199), "get": (300, 210, 150, 100),
                          "create": (90, 100, 80, 70)})
    small = rounds.verdict(rounds.COMPARED_BY_KEY["list small"], summary)
    assert (small.fastest, small.ratio, small.met) == ("smorest", 400 / 199, True)
    get = rounds.verdict(rounds.COMPARED_BY_KEY["get"], summary)
    assert (get.fastest, round(get.ratio, 3), get.met) == ("fastapi", round(300 / 210, 3), False)  # needs 1.5
    create = rounds.verdict(rounds.COMPARED_BY_KEY["create"], summary)
    assert (create.ratio, create.met, create.clean, create.tail_met) == (0.9, False, True, True)


def test_the_big_bot_list_is_judged_against_the_apis_own_small_bot_rate():
    summary = summary_of({"list small": (400, 150, 100, 199), "list big": (350, 5, 4, 3)})
    big = rounds.verdict(rounds.COMPARED_BY_KEY["list big"], summary)
    assert (big.ratio, big.measured, big.met) == (70, 350 / 400, False)  # 70 x the peers, but 0.875 < 0.9
    summary = summary_of({"list small": (400, 150, 100, 199), "list big": (380, 5, 4, 3)})
    assert rounds.verdict(rounds.COMPARED_BY_KEY["list big"], summary).met


def test_a_long_tail_or_an_error_answer_is_not_a_pass():
    summary = summary_of({"get": (900, 100, 100, 100)}, **{})
    summary["get"]["api"]["p99_ms"] = 51.0  # p50 10 ms
    tail = rounds.verdict(rounds.COMPARED_BY_KEY["get"], summary)
    assert (tail.met, tail.tail, tail.tail_met) == (True, 5.1, False)
    summary["get"]["drf"]["errors"] = 3  # a peer answering errors is not measured doing the work
    assert not rounds.verdict(rounds.COMPARED_BY_KEY["get"], summary).clean
    assert "— (errors)" in rounds.loaded_table(summary, NAMES)


def test_the_single_connection_target_wants_the_lowest_p50():
    runs = {("get", name): [run(100, p50)] for name, p50 in zip(NAMES, (2.0, 3.0, 1.6, 2.5))}
    ratio, fastest, met = rounds.sequential_verdict("get", rounds.summarise(runs))
    assert (ratio, fastest, met) == (2.0 / 1.6, "drf", False)


def test_the_tables_carry_every_system_and_the_verdicts():
    summary = summary_of({key: (100 + n, 50, 60, 70) for n, key in enumerate(KEYS)})
    loaded = rounds.loaded_table(summary, NAMES).splitlines()
    assert loaded[0].startswith("| scenario | this API | FastAPI | DRF | flask-smorest (docs' way) | API ÷ fastest")
    assert len(loaded) == 2 + len(KEYS)
    assert "| list page 1, small bot | 100 | 50 | 60 | 70 | 1.43 (flask-smorest (docs' way)) | ≥ 2.0 × fastest peer" \
        in loaded[2]
    assert "≥ 0.9 × the API's own list page 1, small bot | 1.01 | yes |" in loaded[3]
    assert rounds.sequential_table(summary, NAMES).count("\n") == 1 + len(KEYS)
    detail = rounds.scenario_tables(summary, NAMES, {"get": "bot 50"})
    assert "**get by id** (bot 50)" in detail and detail.count("API ÷ fastest peer") == len(KEYS)


def test_a_run_without_peers_has_no_verdict():
    summary = rounds.summarise({("get", "api"): [run(100)]})
    assert rounds.verdict(rounds.COMPARED_BY_KEY["get"], summary) is None
    assert "| get by id | 100 |  |  |  |  | ≥ 1.5 × fastest peer |" in rounds.loaded_table(summary, NAMES)


def test_the_peers_data_has_the_apis_counts_at_any_scale():
    if not FLOOR_DATA.exists():
        pytest.skip(f"{FLOOR_DATA} is not in this checkout's parent")
    statements = peers.floor_data_statements(FLOOR_DATA.read_text(), 10_000, 100)
    insert = next(statement for statement in statements if statement.startswith("INSERT"))
    assert "g <= 10000 THEN 1" in insert and "generate_series(1, 19900)" in insert  # 10,000 + 99 x 100
    assert statements[-1] == "VACUUM ANALYZE tracking"  # alone: VACUUM refuses a multi-statement string
    assert not any("--" in statement for statement in statements)
    full = peers.floor_data_statements(FLOOR_DATA.read_text(), 1_000_000, 10_000)
    assert "generate_series(1, 1990000)" in next(s for s in full if s.startswith("INSERT"))


def test_a_changed_floor_data_file_is_refused_rather_than_misread():
    with pytest.raises(ValueError, match="no longer holds"):
        peers.floor_data_statements("INSERT INTO tracking SELECT 1 FROM generate_series(1, 5) g;", 10, 1)


def test_the_peers_get_the_apis_server_settings(monkeypatch, tmp_path):
    """peers.SERVER_SETTINGS' defaults are docker/gunicorn.conf.py's, and follow the same variables."""
    for _, name, _ in peers.SERVER_SETTINGS:
        monkeypatch.delenv(f"GUNICORN_{name}", raising=False)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))  # the file makes a directory without it
    config = runpy.run_path(str(BENCH.parent / "docker" / "gunicorn.conf.py"))
    names = {"KEEPALIVE": "keepalive", "TIMEOUT": "timeout", "MAX_REQUESTS": "max_requests",
             "MAX_REQUESTS_JITTER": "max_requests_jitter"}
    assert {name: default for _, name, default in peers.SERVER_SETTINGS} == {
        name: config[setting] for name, setting in names.items()}
    monkeypatch.setenv("GUNICORN_MAX_REQUESTS", "123")
    options = peers.server_settings()
    assert options[options.index("--max-requests") + 1] == "123"


def test_a_wsgi_peer_gets_the_apis_threads_and_the_fastapi_one_its_uvicorn_worker(tmp_path):
    by_name = {peer.name: peer for peer in peers.PEERS}
    drf = peers.gunicorn_command(by_name["drf"], tmp_path, tmp_path, 8000, 4, 4)
    assert drf[drf.index("--workers") + 1] == "4" and drf[drf.index("--threads") + 1] == "4"
    assert drf[drf.index("--worker-class") + 1] == "gthread" and drf[-1] == "peer_drf.wsgi"
    fastapi = peers.gunicorn_command(by_name["fastapi"], tmp_path, tmp_path, 8000, 4, 4)
    assert fastapi[fastapi.index("--worker-class") + 1] == "uvicorn_worker.UvicornWorker"
    assert "--threads" not in fastapi and fastapi[0] == str(tmp_path / "bin" / "gunicorn")


def test_the_stack_floor_is_shown_beside_the_peers_but_never_taken_for_one():
    """The floor (bench/stack_floor_app.py's /sm) runs get by id only: its rate is shown against the fastest peer,
    as the most an app on this stack reaches, and it is never the peer the API is judged against."""
    runs = {("get", name): [run(rps, p50)] for name, rps, p50 in
            zip(NAMES, (300, 210, 150, 100), (2.0, 1.8, 2.6, 2.9))}
    runs[("get", rounds.FLOOR.name)] = [run(320, 1.5)]
    runs[("create", "api")], runs[("create", "fastapi")] = [run(90)], [run(100)]
    summary = rounds.summarise(runs)
    names = [*NAMES, rounds.FLOOR.name]
    get = rounds.verdict(rounds.COMPARED_BY_KEY["get"], summary)
    assert (get.fastest, round(get.ratio, 3), round(get.floor_ratio, 3)) == ("fastapi", round(300 / 210, 3),
                                                                           round(320 / 210, 3))
    assert rounds.verdict(rounds.COMPARED_BY_KEY["create"], summary).floor_ratio is None
    assert rounds.sequential_verdict("get", summary) == (2.0 / 1.8, "fastapi", False)
    loaded = rounds.loaded_table(summary, names).splitlines()
    assert loaded[0].startswith("| scenario | this API | FastAPI | DRF | flask-smorest (docs' way) | the fixed stack's "
                                "floor (`/sm`) | API ÷ fastest peer")
    assert "| get by id | 300 | 210 | 150 | 100 | 320 | 1.43 (FastAPI) |" in loaded[2]
    assert "| create | 90 | 100 |  |  |  | 0.90 (FastAPI) |" in loaded[3]
    detail = rounds.scenario_tables(summary, names)
    assert "the fixed stack's floor ÷ fastest peer: 1.52" in detail
    assert "| the fixed stack's floor (`/sm`) | 320 |" in detail
    one = rounds.scenario_tables(summary, names, sequential=True)
    assert "API p50 ÷ the lowest peer p50 (FastAPI): 1.11" in one and "floor p50 ÷ the lowest peer p50: 0.83" in one


def test_the_rounds_estimate_counts_every_run():
    assert rounds.estimated_seconds(3, 16, 3, 15, 5) == 3 * 16 * 23
