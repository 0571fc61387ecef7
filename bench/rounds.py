"""The side-by-side comparison of `make bench` (issue 21): which system runs when, medians over rounds, the API's
ratio to the fastest peer against the issue's targets, and the tables.

Pure (no servers, no wrk), so that tests/test_bench_rounds.py checks it without starting anything.
"""
from dataclasses import dataclass
from statistics import median

API = "api"
TAIL_LIMIT = 5  # every p99 <= 5 x its p50


@dataclass(frozen=True)
class System:
    name: str  # short: it goes into the tracking numbers a create sends
    title: str


SYSTEMS = (System(API, "this API"), System("fastapi", "FastAPI"), System("drf", "DRF"),
           System("smorest", "flask-smorest (docs' way)"))
# Not a peer: bench/stack_floor_app.py's /sm, the fixed stack with one budget, a key read from Redis and one select
# through marshmallow, and nothing else. It runs get by id beside the others, so that the table shows in the same
# rounds how far above the fastest peer any app built on this stack can get.
FLOOR = System("floor", "the fixed stack's floor (`/sm`)")


@dataclass(frozen=True)
class Compared:
    """One compared scenario and the issue's target for it: the API's req/s divided by the fastest peer's (or,
    with `of_own`, by the API's own req/s in that scenario) must reach `at_least`."""

    key: str
    name: str  # the scenario's name in the API-only table too, so that --only selects both
    bot: str  # "small", "big" or "write" (the small bot that takes the writes)
    script: str  # bench/lua/<script>.lua
    title: str
    at_least: float
    of_own: str = ""

    def target_text(self):
        if self.of_own:
            return f"≥ {self.at_least:.1f} × the API's own {COMPARED_BY_KEY[self.of_own].title}"
        return f"≥ {self.at_least:.1f} × fastest peer"


COMPARED = (
    Compared("list small", "list page 1", "small", "get", "list page 1, small bot", 2.0),
    Compared("list big", "list page 1", "big", "get", "list page 1, big bot", 0.9, of_own="list small"),
    Compared("get", "get by id", "small", "by_id", "get by id", 1.5),
    Compared("create", "create", "write", "create", "create", 1.0),
    Compared("update", "status update", "write", "update", "status update", 1.0),
)
COMPARED_BY_KEY = {scenario.key: scenario for scenario in COMPARED}


def rotation(names, round_index, scenario_index):
    """The order the systems run in for one scenario of one round: rotated by one more place each round and each
    scenario, so that no system always goes first (after an idle spell) or always follows the same neighbour."""
    shift = (round_index + scenario_index) % len(names)
    return list(names[shift:]) + list(names[:shift])


def schedule(names, scenario_keys, rounds):
    """Every (round, scenario key, system) in the order they run: round after round, each round every scenario,
    each scenario every system once."""
    return [(round_index, key, name)
            for round_index in range(rounds)
            for scenario_index, key in enumerate(scenario_keys)
            for name in rotation(names, round_index, scenario_index)]


def errors_of(figures):
    return figures["non_2xx"] + figures["socket_errors"] + figures["timeouts"]


def medians(runs):
    """One system's figures for one scenario over the rounds: the median of each measure, errors summed."""
    return {"rps": median(run["rps"] for run in runs), "p50_ms": median(run["p50_ms"] for run in runs),
            "p99_ms": median(run["p99_ms"] for run in runs), "errors": sum(errors_of(run) for run in runs),
            "rounds_rps": [run["rps"] for run in runs], "rounds_p50": [run["p50_ms"] for run in runs],
            "loads": [run.get("load", 0.0) for run in runs]}


def summarise(runs):
    """{(key, system): [figures per round]} -> {key: {system: medians}}, scenarios and systems in run order."""
    summary = {}
    for (key, name), figures in runs.items():
        summary.setdefault(key, {})[name] = medians(figures)
    return summary


def fastest_peer(systems, measure="rps"):
    """(name, figures) of the best peer: the most req/s, or (for "p50_ms") the lowest p50."""
    peers = [(name, figures) for name, figures in systems.items() if name not in (API, FLOOR.name)]
    if not peers:
        return None, None
    pick = max if measure == "rps" else min
    return pick(peers, key=lambda item: item[1][measure])


@dataclass(frozen=True)
class Verdict:
    ratio: float  # the API's req/s ÷ the fastest peer's
    fastest: str
    measured: float  # what the target is checked on (the ratio, or the API's share of its own other rate)
    met: bool
    tail: float  # the API's p99 ÷ p50
    tail_met: bool
    clean: bool  # no system answered anything but 2xx in any round
    floor_ratio: float | None = None  # the fixed stack's floor's req/s ÷ the fastest peer's, where it ran


def verdict(scenario, summary):
    """The API's ratio to the fastest peer and the issue's target for one scenario (None without the API or a
    peer)."""
    systems = summary.get(scenario.key, {})
    fastest, best = fastest_peer(systems)
    if API not in systems or best is None:
        return None
    api = systems[API]
    ratio = api["rps"] / best["rps"] if best["rps"] else float("inf")
    measured = ratio
    if scenario.of_own:
        own = summary.get(scenario.of_own, {}).get(API)
        measured = api["rps"] / own["rps"] if own and own["rps"] else float("nan")
    tail = api["p99_ms"] / api["p50_ms"] if api["p50_ms"] else float("inf")
    clean = not any(figures["errors"] for figures in systems.values())
    floor = systems.get(FLOOR.name)
    floor_ratio = floor["rps"] / best["rps"] if floor and best["rps"] else None
    return Verdict(ratio, fastest, measured, measured >= scenario.at_least, tail, tail <= TAIL_LIMIT, clean,
                   floor_ratio)


def sequential_verdict(key, summary):
    """(API p50 ÷ the lowest peer p50, that peer, met) for the single-connection table: the issue wants the API's
    p50 at most the fastest peer's."""
    systems = summary.get(key, {})
    fastest, best = fastest_peer(systems, "p50_ms")
    if API not in systems or best is None:
        return None
    ratio = systems[API]["p50_ms"] / best["p50_ms"] if best["p50_ms"] else float("inf")
    return ratio, fastest, ratio <= 1.0


def yes_no(met, clean=True):
    if not clean:
        return "— (errors)"
    return "yes" if met else "no"


def markdown_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def titles(names):
    by_name = {system.name: system.title for system in (*SYSTEMS, FLOOR)}
    return [by_name.get(name, name) for name in names]


def loaded_table(summary, names):
    """The summary of the loaded runs: a row per scenario, each system's median req/s, the API's ratio to the
    fastest peer, the target and whether it is met, the API's tail."""
    header = ["scenario", *titles(names), "API ÷ fastest peer", "target", "measured", "met", "API p99 ÷ p50 (≤ 5)"]
    rows = []
    for scenario in COMPARED:
        if scenario.key not in summary:
            continue
        systems = summary[scenario.key]
        cells = [f"{systems[name]['rps']:.0f}" if name in systems else "" for name in names]
        result = verdict(scenario, summary)
        if result is None:
            rows.append([scenario.title, *cells, "", scenario.target_text(), "", "", ""])
            continue
        rows.append([scenario.title, *cells, f"{result.ratio:.2f} ({titles([result.fastest])[0]})",
                     scenario.target_text(), f"{result.measured:.2f}", yes_no(result.met, result.clean),
                     f"{result.tail:.1f} {yes_no(result.tail_met, result.clean)}"])
    return markdown_table(header, rows)


def scenario_tables(summary, names, notes=None, sequential=False):
    """A table per scenario: each system's medians (req/s under load, or p50 on one connection first), its figures
    in each round, its errors, the load average; then the API's verdict."""
    parts = []
    for scenario in COMPARED:
        systems = summary.get(scenario.key)
        if not systems:
            continue
        note = (notes or {}).get(scenario.key, "")
        parts += [f"**{scenario.title}**" + (f" ({note})" if note else ""), ""]
        header = ["system", "p50 ms", "p99 ms", "p50 ms by round"] if sequential else [
            "system", "req/s", "p50 ms", "p99 ms", "req/s by round"]
        rows = [[title, *scenario_cells(figures, sequential), str(figures["errors"]),
                 f"{min(figures['loads']):.1f}-{max(figures['loads']):.1f}"]
                for name, title in zip(names, titles(names)) if (figures := systems.get(name))]
        parts += [markdown_table([*header, "errors", "load"], rows), "", verdict_line(scenario, summary, sequential),
                  ""]
    return "\n".join(parts).rstrip()


def scenario_cells(figures, sequential):
    by_round = ", ".join(f"{value:.1f}" if sequential else f"{value:.0f}"
                         for value in figures["rounds_p50" if sequential else "rounds_rps"])
    latency = [f"{figures['p50_ms']:.1f}", f"{figures['p99_ms']:.1f}"]
    return [*latency, by_round] if sequential else [f"{figures['rps']:.0f}", *latency, by_round]


def verdict_line(scenario, summary, sequential):
    if sequential:
        result = sequential_verdict(scenario.key, summary)
        if result is None:
            return ""
        ratio, fastest, met = result
        systems = summary[scenario.key]
        clean = not any(figures["errors"] for figures in systems.values())
        floor = systems.get(FLOOR.name)
        floor_text = "" if floor is None else (
            f"; the fixed stack's floor p50 ÷ the lowest peer p50: {floor['p50_ms'] / systems[fastest]['p50_ms']:.2f}")
        return (f"API p50 ÷ the lowest peer p50 ({titles([fastest])[0]}): {ratio:.2f}; target ≤ 1.0, met: "
                f"{yes_no(met, clean)}{floor_text}")
    result = verdict(scenario, summary)
    if result is None:
        return ""
    floor = "" if result.floor_ratio is None else (
        f"; the fixed stack's floor ÷ fastest peer: {result.floor_ratio:.2f}, the most an app on this stack reaches")
    return (f"API ÷ fastest peer ({titles([result.fastest])[0]}): {result.ratio:.2f}; target "
            f"{scenario.target_text()}: {result.measured:.2f}, met: {yes_no(result.met, result.clean)}; "
            f"API p99 ÷ p50 {result.tail:.1f} (≤ {TAIL_LIMIT}): {yes_no(result.tail_met, result.clean)}{floor}")


def sequential_table(summary, names):
    """One connection, one request after another: each system's median p50, and the API's p50 against the
    lowest peer's."""
    header = ["scenario", *(f"{title} p50 ms" for title in titles(names)), "API ÷ fastest peer", "target", "met",
              "errors"]
    rows = []
    for scenario in COMPARED:
        systems = summary.get(scenario.key)
        if not systems:
            continue
        cells = [f"{systems[name]['p50_ms']:.1f}" if name in systems else "" for name in names]
        errors = sum(figures["errors"] for figures in systems.values())
        result = sequential_verdict(scenario.key, summary)
        if result is None:
            rows.append([scenario.title, *cells, "", "≤ 1.0", "", str(errors)])
            continue
        ratio, fastest, met = result
        rows.append([scenario.title, *cells, f"{ratio:.2f} ({titles([fastest])[0]})", "≤ 1.0",
                     yes_no(met, not errors), str(errors)])
    return markdown_table(header, rows)


def estimated_seconds(rounds, runs_per_round, warmup, duration, sequential):
    """How long the rounds take, start-ups aside: every run of every round (a system in a scenario) is a warm-up,
    the measured run and the single-connection run."""
    return rounds * runs_per_round * (warmup + duration + sequential)
