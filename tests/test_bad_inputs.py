"""A corpus of bad and hostile inputs: each ends with one line naming where, exit code 2,
and nothing created or changed.

Every case writes the files it needs into a fresh directory (the working directory
of the command), snapshots the whole tree, runs ``hetsim`` in-process and checks the
exit code, that stderr is one ``hetsim: error:`` line holding the expected place
(the option, or the file, line and field), and that the tree is byte for byte as
it was.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cli_helpers import run_cli
from workloads.trace import FIELDS

Setup = Callable[[Path], list[str]]

GOOD_LINE = "ResNet-18 (batch size 16)\tcmd\twd\t--num_steps\t0\t1000\t1\t1\t-1.000000\t{t}"


@dataclass(frozen=True)
class Case:
    """One bad input: how to set it up, and what the error line must say."""

    name: str
    setup: Setup
    where: str


def _run(*extra: str, out: str = "out") -> list[str]:
    """``hetsim run`` with a small valid configuration, ``extra`` options last."""
    base = ["run", "--policy", "fifo", "--cluster", "4:4:4", "--quiet", "--out", out]
    if "--trace" not in extra and "--rate" not in extra:
        base += ["--rate", "1"]
    if "--window" not in extra and "--trace" not in extra and "--max-jobs" not in extra:
        base += ["--window", "0:10"]
    return [*base, *extra]


def option(name: str, *extra: str, where: str | None = None) -> Case:
    """A ``hetsim run`` option value that must be refused naming the option."""
    flag = next(a for a in extra if a.startswith("--"))
    expected = where if where is not None else f"{flag}: field '{flag[2:]}'"
    return Case(name, lambda d: _run(*extra), expected)


def _trace_line(**fields: str) -> str:
    values = dict(zip(FIELDS, GOOD_LINE.format(t="0.000000").split("\t"), strict=True))
    values.update(fields)
    return "\t".join(values[f] for f in FIELDS)


def trace_file(name: str, text: str | bytes, where: str, *extra: str) -> Case:
    """A trace file given to ``hetsim run --trace``."""

    def setup(d: Path) -> list[str]:
        path = d / "t.tsv"
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
        return _run("--trace", "t.tsv", *extra)

    return Case(name, setup, where)


def bad_line(name: str, field: str, value: str) -> Case:
    """A trace whose second line has ``field`` set to ``value``."""
    text = _trace_line() + "\n" + _trace_line(**{field: value}) + "\n"
    return trace_file(name, text, f"t.tsv:2: field '{field}'")


def cluster_file(name: str, text: str, where: str) -> Case:
    def setup(d: Path) -> list[str]:
        (d / "c.toml").write_text(text)
        return ["run", "--policy", "fifo", "--cluster", "c.toml", "--rate", "1", "--out", "o"]

    return Case(name, setup, where)


def throughput_file(name: str, text: str | bytes, where: str) -> Case:
    def setup(d: Path) -> list[str]:
        path = d / "tp.json"
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
        return _run("--throughputs", "tp.json")

    return Case(name, setup, where)


def _throughputs(null: str, pairs: str = "") -> str:
    entry = f'{{"null": {null}{pairs}}}'
    return (
        "{\n"
        + ",\n".join(
            f'  "{t}": {{\n    "(\'ResNet-18 (batch size 16)\', 1)": {entry}\n  }}'
            for t in ("k80", "p100", "v100")
        )
        + "\n}\n"
    )


SCENARIO = """name = "mine"
trace = "single-gpu"
policies = ["fifo"]
rates = [1.0]
seeds = [0]
window = "0:10"
"""


def scenario(name: str, change: tuple[str, str] | None, where: str, *extra: str) -> Case:
    """A scenario file for ``hetsim sweep`` with one line replaced (or one added)."""

    def setup(d: Path) -> list[str]:
        text = SCENARIO
        if change is not None:
            old, new = change
            text = text.replace(old, new) if old else text + new + "\n"
        (d / "s.toml").write_text(text)
        return ["sweep", "s.toml", "--quiet", "--jobs", "1", *extra]

    return Case(name, setup, where)


def _events(*lines: str) -> str:
    return "".join(line + "\n" for line in lines)


ARRIVED = '{"event": "job_arrived", "sim_time": 5.0, "job_id": 0, "model": "m", "scale_factor": 1}'


def events_file(name: str, text: str | bytes, where: str, *extra: str) -> Case:
    def setup(d: Path) -> list[str]:
        (d / "r").mkdir()
        path = d / "r" / "events.jsonl"
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
        return ["replay", "r", *extra]

    return Case(name, setup, where)


def result_file(name: str, text: str, where: str) -> Case:
    def setup(d: Path) -> list[str]:
        (d / "r").mkdir()
        (d / "r" / "events.jsonl").write_text(_events(ARRIVED))
        (d / "r" / "result.json").write_text(text)
        return ["replay", "r"]

    return Case(name, setup, where)


RESULTS_HEADER = "scenario,trace,policy,rate,seed,status,avg_jct_h"


def results_file(name: str, text: str | bytes | None, where: str) -> Case:
    """A sweep directory for ``hetsim plot`` whose results.csv is ``text`` (None: none)."""

    def setup(d: Path) -> list[str]:
        (d / "sw").mkdir()
        (d / "sw" / "runs").mkdir()
        if isinstance(text, bytes):
            (d / "sw" / "results.csv").write_bytes(text)
        elif text is not None:
            (d / "sw" / "results.csv").write_text(text)
        return ["plot", "sw"]

    return Case(name, setup, where)


def _full_header() -> str:
    from sweep.table import COLUMNS

    return ",".join(COLUMNS)


def _results_row(**cells: str) -> str:
    from sweep.table import COLUMNS

    values = {c: "" for c in COLUMNS}
    values.update({"scenario": "x", "trace": "single-gpu", "policy": "fifo", "rate": "1.0"})
    values.update({"seed": "0", "status": "ok"})
    values.update(cells)
    return ",".join(values[c] for c in COLUMNS)


def with_files(name: str, files: dict[str, str | None], argv: list[str], where: str) -> Case:
    """``argv`` after writing ``files`` (a value of None makes a directory)."""

    def setup(d: Path) -> list[str]:
        for rel, content in files.items():
            path = d / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if content is None:
                path.mkdir(exist_ok=True)
            else:
                path.write_text(content)
        return list(argv)

    return Case(name, setup, where)


HETSIM_RUN = {
    "prev/result.json": json.dumps({"hetsim_version": "0.1.0", "avg_jct_s": 1.0}),
    "prev/.hetsim-run": json.dumps({"written_by": "hetsim", "files": ["result.json"]}),
}

BIG_STEPS = "100000000000"  # 1e11 steps: about 100 years even on the fastest type

PARTS = "--partitions: field 'partitions'"

CASES: list[Case] = [
    # -- command-line values of `hetsim run` ---------------------------------------------
    option("rate inf", "--rate", "inf"),
    option("rate nan", "--rate", "nan"),
    option("rate 1e-300", "--rate", "1e-300"),
    option("rate zero", "--rate", "0"),
    option("rate negative", "--rate", "-2"),
    option("rate huge", "--rate", "1e9"),
    option("rate not a number", "--rate", "abc", where="'--rate'"),
    option("cluster 1e20 GPUs", "--cluster", "99999999999999999999:1:1"),
    option("cluster over 100,000 in all", "--cluster", "60000:60000:1"),
    option("cluster no GPUs", "--cluster", "0:0:0"),
    option("cluster two counts", "--cluster", "1:2"),
    option("cluster words", "--cluster", "abc"),
    option("missing cluster file", "--cluster", "nowhere.toml", where="nowhere.toml: cannot read"),
    option("gpus per server zero", "--gpus-per-server", "0"),
    option("gpus per server huge", "--gpus-per-server", "5000"),
    option("round length 1e-6", "--round-length", "1e-6"),
    option("round length 1e300", "--round-length", "1e300"),
    option("round length nan", "--round-length", "nan"),
    option("round length zero", "--round-length", "0"),
    option("reset interval negative", "--reset-interval", "-1"),
    option("reset interval nan", "--reset-interval", "nan"),
    option("reset interval inf", "--reset-interval", "inf"),
    option("timeout nan", "--timeout", "nan"),
    option("timeout zero", "--timeout", "0"),
    option("timeout negative", "--timeout", "-5"),
    option("timeout inf", "--timeout", "inf"),
    option(
        "type costs too few",
        "--policy",
        "max_sum_throughput_perf",
        "--type-costs",
        "1:2",
        where="--type-costs: field 'type-costs'",
    ),
    option("type costs words", "--type-costs", "a:b:c"),
    option("type costs nan", "--type-costs", "1:nan:1"),
    option("type costs zero", "--type-costs", "1:0:1"),
    option("window one number", "--window", "4000"),
    option("window reversed", "--window", "10:5"),
    option("window huge", "--window", "0:99999999999"),
    option("window negative", "--window", "-1:5"),
    option("max jobs zero", "--max-jobs", "0"),
    option("max jobs huge", "--max-jobs", "99999999999"),
    option(
        "window beyond max jobs",
        "--max-jobs",
        "30",
        "--window",
        "0:1000",
        where="--window: field 'window': 0:1000 reaches beyond the workload",
    ),
    option("seed negative", "--seed", "-1"),
    option("seed huge", "--seed", "99999999999"),
    option("saturation window 1", "--saturation-window", "1"),
    option("saturation min rate nan", "--saturation-min-rate", "nan"),
    option("saturation min util 1.5", "--saturation-min-util", "1.5"),
    option("saturation min util nan", "--saturation-min-util", "nan"),
    option("saturation drain limit negative", "--saturation-drain-limit", "-1"),
    option("saturation drain limit nan", "--saturation-drain-limit", "nan"),
    option("saturation drain limit below 1", "--saturation-drain-limit", "0.5"),
    option("unknown policy", "--policy", "nope"),
    option("unknown solver", "--solvers", "nope"),
    option(
        "multi-GPU on a single-GPU policy",
        "--policy",
        "allox",
        "--multi-gpu",
        where="--multi-gpu: field 'multi-gpu'",
    ),
    option("ftf baseline on fifo", "--ftf-isolated", "las"),
    option("partitions zero", "--policy", "max_min_fairness", "--partitions", "0", where=PARTS),
    option(
        "partitions negative", "--policy", "max_min_fairness", "--partitions", "-2", where=PARTS
    ),
    option(
        "partitions not an integer",
        "--policy",
        "max_min_fairness",
        "--partitions",
        "2.5",
        where=PARTS,
    ),
    option("partitions a word", "--policy", "max_min_fairness", "--partitions", "two", where=PARTS),
    option(
        "partitions above the smallest type",
        "--policy",
        "max_min_fairness",
        "--partitions",
        "5",
        where="--partitions: field 'partitions': must be an integer from 1 to 4",
    ),
    option(
        "partitions smaller than a multi-GPU job",
        "--policy",
        "max_min_fairness",
        "--multi-gpu",
        "--partitions",
        "2",
        where="--partitions: field 'partitions': 2 parts leave 2 GPUs",
    ),
    trace_file(
        "partitions smaller than a trace's job",
        _trace_line(scale_factor="4") + "\n",
        "--partitions: field 'partitions': 2 parts leave 2 GPUs of the smallest type to each, "
        "fewer than the 4",
        "--policy",
        "max_min_fairness",
        "--partitions",
        "2",
    ),
    option("partitions on fifo", "--partitions", "2", where="policy 'fifo' is not solved"),
    option(
        "partitions with quirks",
        "--policy",
        "max_min_fairness",
        "--quirks",
        "gavel",
        "--partitions",
        "2",
        where="--partitions: field 'partitions': the reference has no partitioning",
    ),
    option("missing trace", "--trace", "nowhere.tsv", where="nowhere.tsv: field 'trace'"),
    # -- where `hetsim run` writes --------------------------------------------------------
    with_files("out is the working directory", {}, _run(out="."), "--out: field 'out'"),
    with_files("out is a parent of it", {}, _run(out=".."), "--out: field 'out'"),
    with_files("out below a file", {"f": "x"}, _run(out="f/run"), "--out: field 'out'"),
    with_files("out is a file", {"f": "x"}, _run(out="f"), "--out: field 'out'"),
    with_files(
        "out is the user's directory",
        {"mine/notes.txt": "mine"},
        _run(out="mine"),
        "--out: field 'out': mine exists and is not a hetsim run directory",
    ),
    with_files(
        "out is an earlier run, no --force",
        HETSIM_RUN,
        _run(out="prev"),
        "--out: field 'out': prev holds an earlier run; give --force",
    ),
    with_files(
        "out is an earlier run with the user's file",
        {**HETSIM_RUN, "prev/notes.txt": "mine"},
        [*_run(out="prev"), "--force"],
        "--out: field 'out': prev holds files hetsim did not",
    ),
    # -- traces -----------------------------------------------------------------------------
    bad_line("trace steps 1e30", "total_steps", "1e30"),
    bad_line("trace steps nan", "total_steps", "nan"),
    bad_line("trace steps zero", "total_steps", "0"),
    bad_line("trace steps too long a run", "total_steps", BIG_STEPS),
    bad_line("trace arrival 1e300", "arrival_time", "1e300"),
    bad_line("trace arrival nan", "arrival_time", "nan"),
    bad_line("trace arrival negative", "arrival_time", "-1"),
    bad_line("trace scale factor zero", "scale_factor", "0"),
    bad_line("trace scale factor huge", "scale_factor", "99999999"),
    bad_line("trace scale factor not an integer", "scale_factor", "1.5"),
    bad_line("trace weight zero", "priority_weight", "0"),
    bad_line("trace weight 1e300", "priority_weight", "1e300"),
    bad_line("trace SLO 1e300", "SLO", "1e300"),
    bad_line("trace data dir 2", "needs_data_dir", "2"),
    bad_line("trace unknown job type", "job_type", "NoSuchModel"),
    bad_line("trace empty job type", "job_type", " "),
    trace_file("trace nine fields", "a\tb\tc\n", "t.tsv:1: field 'trace_format'"),
    trace_file(
        "trace arrival decreasing",
        _trace_line(arrival_time="10.0") + "\n" + _trace_line(arrival_time="5.0") + "\n",
        "t.tsv:2: field 'arrival_time'",
    ),
    trace_file("trace binary", b"\xff\xfe\x00\x01garbage", "t.tsv: trace is not UTF-8"),
    trace_file("trace empty", "", "t.tsv: trace is empty"),
    trace_file(
        "trace window beyond it",
        _trace_line() + "\n",
        "--window: field 'window': 4000:5000 reaches beyond the workload",
        "--window",
        "4000:5000",
    ),
    trace_file(
        "trace with --multi-gpu",
        _trace_line() + "\n",
        "--multi-gpu: field 'multi-gpu'",
        "--multi-gpu",
    ),
    trace_file("trace and a rate", _trace_line() + "\n", "field 'rate'", "--rate", "1"),
    # -- cluster files ----------------------------------------------------------------------
    cluster_file(
        "cluster file 1e8 GPUs", "[types]\nv100 = 100000000\n", "c.toml:2: field 'types.v100'"
    ),
    cluster_file("cluster file negative", "[types]\nv100 = -1\n", "c.toml:2: field 'types.v100'"),
    cluster_file("cluster file a string", "[types]\nv100 = 'x'\n", "c.toml:2: field 'types.v100'"),
    cluster_file("cluster file no types", "gpus_per_server = 2\n", "c.toml: field 'types'"),
    cluster_file(
        "cluster file unknown key", "colour = 1\n[types]\nv100 = 1\n", "c.toml:1: field 'colour'"
    ),
    cluster_file(
        "cluster file server size zero",
        "gpus_per_server = 0\n[types]\nv100 = 4\n",
        "c.toml:1: field 'gpus_per_server'",
    ),
    cluster_file(
        "cluster file type server size huge",
        "[types]\nv100 = { count = 4, gpus_per_server = 5000 }\n",
        "c.toml:2: field 'types.v100.gpus_per_server'",
    ),
    cluster_file(
        "cluster file over 100,000 in all",
        "[types]\nv100 = 60000\nk80 = 60000\n",
        "c.toml:1: field 'types'",
    ),
    cluster_file("cluster file malformed", "[types\nv100 = 1\n", "c.toml:1: malformed TOML"),
    cluster_file(
        "cluster file unknown GPU type",
        "[types]\na100 = 4\n",
        "field 'a100': throughput file has no GPU type 'a100'",
    ),
    # -- throughput files -------------------------------------------------------------------
    throughput_file("throughputs not JSON", "{ nope", "tp.json:1: not valid JSON"),
    throughput_file("throughputs binary", b"\xff\xfe\x00", "tp.json: throughput file is not UTF-8"),
    throughput_file(
        "throughputs negative",
        _throughputs("-1"),
        "tp.json:3: field 'k80/('ResNet-18 (batch size 16)', 1)/null'",
    ),
    throughput_file(
        "throughputs 1e300",
        _throughputs("1e300"),
        "tp.json:3: field 'k80/('ResNet-18 (batch size 16)', 1)/null'",
    ),
    throughput_file(
        "throughputs NaN",
        _throughputs("NaN"),
        "tp.json:3: field 'k80/('ResNet-18 (batch size 16)', 1)/null'",
    ),
    throughput_file(
        "throughputs pair of one",
        _throughputs("1", ", \"('A3C', 1)\": [1]"),
        "tp.json:3: field 'k80/('ResNet-18 (batch size 16)', 1)/('A3C', 1)'",
    ),
    throughput_file(
        "throughputs bad key", '{"k80": {"ResNet": {"null": 1}}}', "tp.json:1: field 'k80/ResNet'"
    ),
    throughput_file("throughputs a list", "[1, 2]", "tp.json:1: top level must be an object"),
    # -- scenario files and `hetsim sweep` ----------------------------------------------
    scenario(
        "scenario rate 1e-300", ("rates = [1.0]", "rates = [1e-300]"), "s.toml:4: field 'rates'"
    ),
    scenario(
        "scenario rate 1e300", ("rates = [1.0]", "rates = [1e300]"), "s.toml:4: field 'rates'"
    ),
    scenario(
        "scenario rate grid from zero",
        ("rates = [1.0]", "rates = { start = 0.0, stop = 1.0, step = 0.5 }"),
        "s.toml:4: field 'rates'",
    ),
    scenario("scenario seed negative", ("seeds = [0]", "seeds = [-1]"), "s.toml:5: field 'seeds'"),
    scenario(
        "scenario seed huge", ("seeds = [0]", "seeds = [99999999999]"), "s.toml:5: field 'seeds'"
    ),
    scenario(
        "scenario window huge",
        ('window = "0:10"', 'window = "0:99999999999"'),
        "s.toml:6: field 'window'",
    ),
    scenario("scenario budget 1e300", ("", "budget_s = 1e300"), "s.toml:7: field 'budget_s'"),
    scenario("scenario budget nan", ("", "budget_s = nan"), "s.toml:7: field 'budget_s'"),
    scenario(
        "scenario server size zero",
        ("", "gpus_per_server = 0"),
        "s.toml:7: field 'gpus_per_server'",
    ),
    scenario(
        "scenario cluster 1e20",
        ("", 'cluster = "99999999999999999999:1:1"'),
        "s.toml:7: field 'cluster'",
    ),
    scenario("scenario unknown key", ("", "colour = 1"), "s.toml:7: field 'colour'"),
    scenario(
        "scenario unknown policy",
        ('policies = ["fifo"]', 'policies = ["nope"]'),
        "s.toml:3: field 'policies'",
    ),
    scenario("scenario malformed", ("", "rates = ["), "s.toml"),
    scenario("scenario partitions zero", ("", "partitions = 0"), "s.toml:7: field 'partitions'"),
    scenario("scenario partitions text", ("", 'partitions = "2"'), "s.toml:7: field 'partitions'"),
    scenario(
        "scenario partitions on fifo",
        ("", 'partitions = 2\nquirks = "none"'),
        "s.toml:7: field 'partitions': policy 'fifo' is not solved",
    ),
    scenario(
        "scenario partitions with quirks",
        ('policies = ["fifo"]', 'policies = ["max_min_fairness"]\npartitions = 2'),
        "s.toml:4: field 'partitions': the reference has no partitioning",
    ),
    scenario(
        "sweep partitions with the scenario's quirks",
        ('policies = ["fifo"]', 'policies = ["max_min_fairness"]'),
        "--partitions: field 'partitions': the reference has no partitioning",
        "--partitions",
        "2",
    ),
    scenario(
        "sweep partitions past the cluster",
        ('policies = ["fifo"]', 'policies = ["max_min_fairness"]\nquirks = "none"'),
        "--partitions: field 'partitions': must be an integer from 1 to 36",
        "--partitions",
        "37",
    ),
    scenario("sweep seeds huge", None, "--seeds: field 'seeds'", "--seeds", "99999999999"),
    scenario("sweep budget nan", None, "--budget: field 'budget'", "--budget", "nan"),
    scenario("sweep out below a file", None, "--out: field 'out'", "--out", "s.toml/x"),
    Case(
        "sweep out is another sweep",
        lambda d: (
            (
                (d / "other").mkdir(),
                (d / "other" / "sweep.json").write_text(
                    json.dumps({"name": "fig10", "trace": "multi-gpu", "quick": False})
                ),
                (d / "s.toml").write_text(SCENARIO),
            )
            and ["sweep", "s.toml", "--quiet", "--out", "other"]
        ),
        "--out: field 'out': other holds another sweep",
    ),
    Case(
        "sweep out is the user's directory",
        lambda d: (
            (
                (d / "mine").mkdir(),
                (d / "mine" / "results.csv").write_text("mine\n"),
                (d / "s.toml").write_text(SCENARIO),
            )
            and ["sweep", "s.toml", "--quiet", "--out", "mine"]
        ),
        "--out: field 'out': mine is not empty and holds no sweep",
    ),
    # -- what `hetsim replay` reads -------------------------------------------------------
    events_file(
        "events binary",
        b'{"event": "a", "sim_time": 0}\n\xff\xfe\x00\n',
        "r/events.jsonl:2: not UTF-8",
    ),
    events_file(
        "events time backwards",
        _events(ARRIVED, '{"event": "x", "sim_time": 1.0}'),
        "r/events.jsonl:2: field 'sim_time': time goes backwards",
    ),
    events_file("events not JSON", _events(ARRIVED, "{nope"), "r/events.jsonl:2: not JSON"),
    events_file(
        "events time NaN",
        _events('{"event": "x", "sim_time": NaN}'),
        "r/events.jsonl:1: field 'sim_time'",
    ),
    events_file(
        "events job id a string",
        _events(ARRIVED.replace('"job_id": 0', '"job_id": "x"')),
        "r/events.jsonl:1: field 'job_id'",
    ),
    events_file(
        "events gpus not a list",
        _events(
            ARRIVED,
            '{"event": "job_placed", "sim_time": 6, "job_id": 0, "gpu_type": "k80", "gpus": 3}',
        ),
        "r/events.jsonl:2: field 'gpus'",
    ),
    events_file("events a list", _events("[1, 2]"), "r/events.jsonl:1: not a JSON object"),
    events_file("replay at nan", _events(ARRIVED), "--at: field 'at'", "--at", "nan"),
    events_file("replay at negative", _events(ARRIVED), "--at: field 'at'", "--at", "-1"),
    events_file("replay at inf", _events(ARRIVED), "--at: field 'at'", "--at", "inf"),
    events_file("replay unknown job", _events(ARRIVED), "field 'job'", "--job", "7"),
    result_file("result not JSON", "{ nope", "r/result.json:1: not JSON"),
    result_file("result a list", "[1]", "r/result.json:1: not a JSON object"),
    result_file("result window a string", '{"window": "0:10"}', "r/result.json: field 'window'"),
    result_file(
        "result average a string", '{"avg_jct_s": "x"}', "r/result.json: field 'avg_jct_s'"
    ),
    with_files("replay missing", {}, ["replay", "nowhere"], "nowhere: no such file"),
    # -- what `hetsim plot` reads -----------------------------------------------------------
    results_file("results binary", b"\xff\xfe\x00\x01", "sw/results.csv: not UTF-8"),
    results_file("results missing", None, "`hetsim plot sw --rebuild` rebuilds it"),
    results_file("results NUL byte", RESULTS_HEADER + "\n\x00\n", "sw/results.csv:2: holds a NUL"),
    results_file("results missing columns", RESULTS_HEADER + "\n", "sw/results.csv:1: field"),
    results_file(
        "results bad rate",
        _full_header() + "\n" + _results_row(rate="fast") + "\n",
        "sw/results.csv:2: field 'rate'",
    ),
    results_file("results empty", "", "sw/results.csv:1: empty file"),
    # -- `hetsim trace` -------------------------------------------------------------------
    with_files(
        "trace jobs zero",
        {},
        ["trace", "--rate", "1", "--jobs", "0", "-o", "t.tsv"],
        "--jobs: field 'jobs'",
    ),
    with_files(
        "trace jobs huge",
        {},
        ["trace", "--rate", "1", "--jobs", "99999999", "-o", "t.tsv"],
        "--jobs: field 'jobs'",
    ),
    with_files(
        "trace rate nan",
        {},
        ["trace", "--rate", "nan", "--jobs", "5", "-o", "t.tsv"],
        "--rate: field 'rate'",
    ),
    with_files(
        "trace out a directory",
        {"d": None},
        ["trace", "--rate", "1", "--jobs", "5", "-o", "d"],
        "'-o'",
    ),
    with_files(
        "trace out below a file",
        {"f": "x"},
        ["trace", "--rate", "1", "--jobs", "5", "-o", "f/t.tsv"],
        "--out: field 'out'",
    ),
    with_files(
        "trace out in a missing directory",
        {},
        ["trace", "--rate", "1", "--jobs", "5", "-o", "no/t.tsv"],
        "--out: field 'out'",
    ),
]


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root`` with its bytes (None for a directory)."""
    return {
        str(p.relative_to(root)): (None if p.is_dir() else p.read_bytes())
        for p in sorted(root.rglob("*"))
    }


def test_the_corpus_is_large_and_names_are_unique() -> None:
    """At least 80 distinct bad inputs over every kind of file and option."""
    assert len(CASES) >= 80
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_one_line_exit_2_and_changes_nothing(
    case: Case,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Exit 2, one error line naming the option or file+line+field, the tree unchanged."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    argv = case.setup(work)
    before = snapshot(tmp_path)
    code, out, err = run_cli(argv, capsys)
    assert code == 2, (out, err)
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("hetsim: error: "), err
    assert case.where in lines[0]
    assert "Traceback" not in err
    assert snapshot(tmp_path) == before
