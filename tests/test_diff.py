"""hetsim diff: two hetsim runs, and a hetsim run against a reference run folder."""

from __future__ import annotations

import csv
import gzip
import json
import shutil
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hetsim import diff, replay
from hetsim.cli import main
from hetsim.reference_runs import is_reference_run, load_reference_run, renumbering
from tests.cli_helpers import run_cli

SHARED_G1 = Path(__file__).resolve().parents[2] / "shared/data/gavel/reference_runs/g1"
TYPES = ("v100", "p100", "k80")
COUNTS = (2, 2, 2)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("diff")
    trace = root / "trace.tsv"
    main(["trace", "--seed", "1", "--rate", "1.5", "--jobs", "40", "-o", str(trace)])
    out = {"trace": trace}
    for name, policy in (("las", "max_min_fairness"), ("fifo", "fifo")):
        argv = ["run", "--policy", policy, "--cluster", "2:2:2", "--trace", str(trace)]
        argv += ["--window", "10:30", "--events", "--quiet", "--out", str(root / name)]
        main(argv)
        out[name] = root / name
    return out


def write_reference(run_dir: Path, trace: Path, dest: Path) -> Path:
    """A reference-format folder holding what ``run_dir`` did, every placement every
    round, with the reference's worker numbering (built from the replay, not the diff)."""
    dest.mkdir()
    rep = replay.load(run_dir)
    back = {t: -s for t, s in renumbering(TYPES, COUNTS).items()}
    with gzip.open(dest / "placements.csv.gz", "wt", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "sim_time_s",
                "job_id",
                "worker_type",
                "worker_ids",
                "priority",
                "deficit",
                "allocation",
            ]
        )
        for ev in rep.events:
            if ev["event"] != "round_started":
                continue
            t = ev["sim_time"]
            for job, stint in rep.holding_at(t).items():
                ids = " ".join(str(g + back[stint.gpu_type]) for g in stint.gpus)
                w.writerow([repr(t), job, stint.gpu_type, ids, "1.00", "0.00", ""])
    with (dest / "jct.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "job_id",
                "arrival_time_s",
                "dispatch_time_s",
                "completion_time_s",
                "jct_s",
                "in_band",
                "jct_driver_s",
            ]
        )
        for job, story in sorted(rep.jobs.items()):
            if story.jct is None:
                continue
            band = 10 <= job < 30
            w.writerow(
                [
                    job,
                    f"{story.arrival:.6f}",
                    "",
                    f"{story.finish:.2f}",
                    f"{story.jct:.2f}",
                    int(band),
                    repr(story.jct) if band else "",
                ]
            )
    shutil.copy(trace, dest / "trace.tsv")
    (dest / "summary.json").write_text(json.dumps({"cluster_spec_v100_p100_k80": "2:2:2"}))
    return dest


def test_renumbering_maps_reference_ids_to_hetsim_ids() -> None:
    """The reference's K80 0-35 / P100 36-71 / V100 72-107 become 72-107 / 36-71 / 0-35."""
    assert renumbering(TYPES, (36, 36, 36)) == {"v100": -72, "p100": 0, "k80": 72}
    assert renumbering(("v100", "k80"), (4, 8)) == {"v100": -8, "k80": 4}


@given(
    st.lists(
        st.sampled_from(["v100", "p100", "k80", "a100", "t4"]), min_size=1, max_size=5, unique=True
    ),
    st.data(),
)
def test_renumbering_is_a_bijection_type_by_type(types: list[str], data: st.DataObject) -> None:
    """Reference ids (types alphabetical) map onto hetsim's (cluster order), rank for rank."""
    counts = tuple(data.draw(st.lists(st.integers(0, 9), min_size=len(types), max_size=len(types))))
    shift = renumbering(tuple(types), counts)
    ref_start = 0
    for t in sorted(types):
        n = counts[types.index(t)]
        het_start = sum(counts[: types.index(t)])
        mapped = [r + shift[t] for r in range(ref_start, ref_start + n)]
        assert mapped == list(range(het_start, het_start + n))
        ref_start += n


def test_a_reference_copy_of_a_run_is_identical(runs: dict[str, Path], tmp_path: Path) -> None:
    """A reference folder written from a run's own placements diffs as identical."""
    ref = write_reference(runs["las"], runs["trace"], tmp_path / "ref")
    assert is_reference_run(ref) and not is_reference_run(runs["las"])
    report = diff.compare(diff.load_run(runs["las"]), load_reference_run(ref))
    assert report["placements"]["first_differing_round"] is None
    assert report["placements"]["first_differing_gpus"] is None
    assert report["placements"]["rounds_compared"] > 50
    jct = report["jct"]
    assert jct["jobs_compared"] == jct["window_jobs"] == 20
    assert jct["within_abs_fraction"] == 1.0 and jct["within_rel_fraction"] == 1.0
    a, b = report["runs"]["a"], report["runs"]["b"]
    assert a["window_avg_jct_s"] == pytest.approx(b["window_avg_jct_s"], abs=1e-9)
    assert a["utilization"] == pytest.approx(b["utilization"], rel=1e-9)


def test_one_changed_placement_is_the_first_differing_round(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    """Moving one job to another type in one logged round is found at that round."""
    ref = write_reference(runs["las"], runs["trace"], tmp_path / "ref")
    with gzip.open(ref / "placements.csv.gz", "rt", newline="") as fh:
        rows = list(csv.reader(fh))
    times = list(dict.fromkeys(r[0] for r in rows[1:]))
    target = times[30]
    i = next(i for i, r in enumerate(rows) if r[0] == target and r[2] == "v100")
    rows[i][2], rows[i][3] = "k80", "1"  # reference K80 slot 1 = hetsim GPU 5
    with gzip.open(ref / "placements.csv.gz", "wt", newline="") as fh:
        csv.writer(fh).writerows(rows)
    report = diff.compare(diff.load_run(runs["las"]), load_reference_run(ref))
    first = report["placements"]["first_differing_round"]
    assert first["index"] == 31
    assert first["b"]["sim_time"] == float(target)
    job = int(rows[i][1])
    changed = {c["job_id"]: c for c in first["jobs"]}
    assert changed[job]["b"] == "k80 5" and changed[job]["a"].startswith("v100 ")
    # what each run knew of the job there: hetsim's allocation, the reference's log row
    assert set(changed[job]["details_a"]["allocation"]) == set(TYPES)
    assert changed[job]["details_b"]["priority"] == "1.00"


def test_two_policies_differ_and_ratios_are_per_job(runs: dict[str, Path]) -> None:
    """Each ratio is the job's JCT in B over its JCT in A; extremes are sorted."""
    a, b = diff.load_run(runs["las"]), diff.load_run(runs["fifo"])
    report = diff.compare(a, b, top=3)
    assert report["placements"]["first_differing_round"] is not None
    rows = diff.ratio_table(a, b)
    assert len(rows) == 20
    ja = {e.job_id: e.jct for e in replay.load(runs["las"]).jobs.values()}
    jb = {e.job_id: e.jct for e in replay.load(runs["fifo"]).jobs.values()}
    for r in rows:
        assert r["ratio"] == pytest.approx(jb[r["job_id"]] / ja[r["job_id"]])
    slowed = [r["ratio"] for r in report["jct"]["most_slowed"]]
    sped = [r["ratio"] for r in report["jct"]["most_sped_up"]]
    assert slowed == sorted(slowed, reverse=True) and len(slowed) == 3
    assert sped == sorted(sped)
    assert slowed[0] == max(r["ratio"] for r in rows)


def test_cli_writes_json_and_plots(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--json prints the report; -o writes the table, the CDF and the timelines."""
    out = tmp_path / "d"
    code, text, _ = run_cli(
        ["diff", str(runs["las"]), str(runs["fifo"]), "--json", "-o", str(out)], capsys
    )
    assert code == 0
    report = json.loads(text)
    assert report["window"] == {"start": 10, "end": 30}
    assert (out / "jct_ratio_cdf.png").read_bytes()[:4] == b"\x89PNG"
    assert b"<svg" in (out / "timeline.svg").read_bytes()[:400]
    assert len((out / "jct_ratios.csv").read_text().splitlines()) == 21
    code, text, _ = run_cli(["diff", str(runs["las"]), str(runs["fifo"])], capsys)
    assert code == 0 and "first round whose job-to-type placements differ" in text


def test_a_run_without_events_is_one_line_and_exit_2(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A directory with no events.jsonl is bad input, named."""
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = run_cli(["diff", str(runs["las"]), str(empty)], capsys)
    assert code == 2
    assert err.strip().count("\n") == 0 and "events.jsonl" in err and str(empty) in err


@pytest.mark.slow  # a whole-system run (CI runs the slow tests too)
@pytest.mark.skipif(not SHARED_G1.is_dir(), reason="reference runs not available")
def test_reads_the_shared_reference_case_g1() -> None:
    """g1: 14,266 logged rounds, band 2000:2500, the printed band average."""
    view = load_reference_run(SHARED_G1)
    assert len(view.rounds) == 14266
    assert view.window == (2000, 2500)
    assert view.window_avg_jct() == pytest.approx(76775.713, abs=1e-3)
    assert view.reported_avg_jct_s == 76775.713
    first = view.rounds[0]
    assert first.time == 0.0 and first.placements == {0: ("v100", (0,))}


@pytest.mark.skipif(not (SHARED_G1.parent / "g3").is_dir(), reason="reference runs not available")
def test_reads_the_crashed_reference_case_g3() -> None:
    """g3 crashed: placements up to the crash, no finished-job table, the band from its
    summary."""
    view = load_reference_run(SHARED_G1.parent / "g3")
    assert view.jct == {} and view.window == (2000, 2500)
    assert len(view.rounds) == 7670 and view.window_avg_jct() is None
