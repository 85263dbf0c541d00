"""Benchmark: how a run's wall time and memory grow with the jobs and with the GPUs.

Each point is one whole simulation of the reference's generator, single-GPU jobs, on a
cluster of G GPUs split 34:33:33 over V100, P100 and K80 (3400:3300:3300 at 10,000),
at 0.025 jobs/h per GPU (the issue's 10,000-GPU case: 250 jobs/h), with the generator
stopped after N jobs and the run going on until every one of them is done. Two axes:

- ``jobs``: N from ``--jobs`` at ``--axis-gpus`` GPUs;
- ``gpus``: G from ``--gpus`` at ``--axis-jobs`` jobs.

Every point runs in a fresh Python process (so its peak resident memory is its own,
read from ``getrusage``), one after another, and prints wall time, rounds, solves, the
time in the policy and the peak memory. Ratios are against the axis's first point,
measured in the same run: wall-time ratio against job (or GPU) ratio, and the log-log
slope between neighbouring points (1.0 is linear growth). With ``--partitions`` each
point also runs with POP in K parts. ``--plot FILE`` draws wall time and memory against
jobs and against GPUs (log-log), one line per K.

Usage::

    .venv/bin/python benchmarks/bench_scale.py                      # about 3 minutes
    .venv/bin/python benchmarks/bench_scale.py --jobs 1000 4000 16000 64000 \\
        --gpus 100 1000 10000 --axis-jobs 40000 --plot docs/scale.png  # docs/scaling.md
    .venv/bin/python benchmarks/bench_scale.py --jobs 100000 --axis-gpus 10000 --gpus \\
        --partitions 1 8                          # 10,000 GPUs and 100,000 jobs, exact and POP
    .venv/bin/python benchmarks/bench_scale.py --jobs 20000 --axis-gpus 10000 --gpus \\
        --compare-job-by-job            # against max-min programs posed job by job (no classes)

Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RATE_PER_GPU = 0.025  # jobs/h per GPU: 250 jobs/h on 10,000 GPUs
SPLIT = (0.34, 0.33, 0.33)
TARGET_S = 300.0  # 10,000 GPUs and 100,000 jobs in 5 minutes (issue 14), drawn for scale


def cluster_of(gpus: int) -> str:
    """G GPUs as V100:P100:K80 in the 10,000-GPU case's proportions (sums to G)."""
    v100 = round(gpus * SPLIT[0])
    p100 = round(gpus * SPLIT[1])
    return f"{v100}:{p100}:{gpus - v100 - p100}"


@dataclass(frozen=True)
class Point:
    axis: str
    gpus: int
    jobs: int
    parts: int
    wall_s: float
    rounds: int
    solves: int
    policy_s: float
    peak_mib: float
    end_reason: str
    avg_jct_s: float | None = None
    job_by_job: bool = False


def run_point(
    gpus: int, jobs: int, parts: int, policy: str, seed: int, job_by_job: bool = False
) -> dict[str, object]:
    """One simulation in this process: its figures as a JSON-ready dict. ``job_by_job``:
    max-min programs posed over every job, never over job classes (the baseline)."""
    from cluster import parse_cluster
    from des.config import SimConfig, WorkloadConfig
    from des.result import build_result
    from des.simulation import Simulation
    from hetsim.eventlog import configure_logging

    configure_logging(None)  # no event trace; warnings to stderr, as `hetsim run`
    config = SimConfig(
        policy=policy,
        cluster=parse_cluster(cluster_of(gpus)),
        workload=WorkloadConfig(rate_per_hour=RATE_PER_GPU * gpus, max_jobs=jobs),
        window=None,
        seed=seed,
        partitions=parts,
        job_classes=not job_by_job,
    )
    started = time.perf_counter()
    result = build_result(Simulation(config).run())
    wall = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {
        "wall_s": wall,
        "rounds": result["rounds"],
        "solves": result["solver"]["solves"],
        "policy_s": result["profile"]["lp_s"] + result["profile"]["lp_build_s"],
        "peak_mib": peak_kib / 1024,
        "end_reason": result["end_reason"],
        "avg_jct_s": result["avg_jct_s"],
        "job_by_job": job_by_job,
    }


def measure(
    axis: str, gpus: int, jobs: int, parts: int, args: argparse.Namespace, job_by_job: bool = False
) -> Point:
    """Runs one point in a fresh interpreter (its own peak memory)."""
    cmd = [
        sys.executable, __file__, "--point", str(gpus), str(jobs), str(parts),
        "--policy", args.policy, "--seed", str(args.seed),
        *(["--job-by-job"] if job_by_job else []),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        sys.exit(f"bench_scale: the point G={gpus} N={jobs} K={parts} failed:\n{done.stderr}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return Point(axis, gpus, jobs, parts, **figures)


def _slope(a: float, b: float, x_a: float, x_b: float) -> float:
    return math.log(b / a) / math.log(x_b / x_a) if a > 0 and x_b != x_a else float("nan")


def report(points: list[Point], axis: str) -> None:
    """Prints one axis's table: ratios against its first point, per K."""
    size = (lambda p: p.jobs) if axis == "jobs" else (lambda p: p.gpus)
    for parts in sorted({p.parts for p in points}):
        line = [p for p in points if p.parts == parts]
        if not line:
            continue
        base = line[0]
        print(
            f"\n{axis} axis, K={parts}: ratios against {axis}={size(base):,} "
            f"({'G' if axis == 'jobs' else 'N'} = {base.gpus if axis == 'jobs' else base.jobs:,})"
        )
        print(
            f"{'GPUs':>7s} {'jobs':>8s} {'rounds':>7s} {'solves':>7s} {'wall s':>8s} "
            f"{'policy s':>9s} {'peak MiB':>9s} {'size x':>7s} {'wall x':>8s} {'slope':>6s} "
            f"{'end':>14s}"
        )
        prev = None
        for p in line:
            slope = _slope(prev.wall_s, p.wall_s, size(prev), size(p)) if prev else float("nan")
            print(
                f"{p.gpus:7,d} {p.jobs:8,d} {p.rounds:7,d} {p.solves:7,d} {p.wall_s:8.1f} "
                f"{p.policy_s:9.1f} {p.peak_mib:9.0f} {size(p) / size(base):7.1f} "
                f"{p.wall_s / base.wall_s:8.1f} {slope:6.2f} {p.end_reason:>14s}",
                flush=True,
            )
            prev = p


def compare(per_class: list[Point], per_job: list[Point]) -> None:
    """Each point against the same point with max-min programs posed job by job."""
    print("\n  the same points job by job (no job classes): wall time and average JCT")
    print(
        f"{'GPUs':>7s} {'jobs':>8s} {'K':>3s} {'classes s':>10s} {'by job s':>9s} "
        f"{'ratio':>6s}  JCT"
    )
    for a, b in zip(per_class, per_job, strict=True):
        same = "identical" if a.avg_jct_s == b.avg_jct_s else f"{a.avg_jct_s} vs {b.avg_jct_s}"
        print(
            f"{a.gpus:7,d} {a.jobs:8,d} {a.parts:3d} {a.wall_s:10.1f} {b.wall_s:9.1f} "
            f"{b.wall_s / a.wall_s:6.2f}  {same}",
            flush=True,
        )


def plot(points: list[Point], path: Path) -> None:
    """Wall time (log-log) and peak memory against jobs and against GPUs, one line per
    K and size held fixed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    plain = FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 10 else f"{v:g}")
    fig, axes = plt.subplots(2, 2, figsize=(10, 7), sharex="col")
    for col, axis in enumerate(("jobs", "gpus")):
        mine = [p for p in points if p.axis == axis]
        lines = sorted({(p.parts, p.gpus if axis == "jobs" else p.jobs) for p in mine})
        for parts, fixed in lines:
            line = sorted(
                (
                    p
                    for p in mine
                    if p.parts == parts and (p.gpus if axis == "jobs" else p.jobs) == fixed
                ),
                key=lambda p: p.jobs if axis == "jobs" else p.gpus,
            )
            xs = [p.jobs if axis == "jobs" else p.gpus for p in line]
            how = "exact" if parts == 1 else f"POP K={parts}"
            label = f"{how}, {fixed:,} {'GPUs' if axis == 'jobs' else 'jobs'}"
            axes[0][col].plot(xs, [p.wall_s for p in line], "o-", label=label)
            axes[1][col].plot(xs, [p.peak_mib for p in line], "o-", label=label)
        axes[0][col].set_title(f"against {'jobs' if axis == 'jobs' else 'GPUs'}")
        axes[0][col].axhline(TARGET_S, linestyle=":", color="grey", label="5 minutes")
        axes[1][col].set_xlabel("jobs" if axis == "jobs" else "GPUs")
        for row in (0, 1):
            ax = axes[row][col]
            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(plain)
            ax.grid(True, which="both", alpha=0.3)
            if lines:
                ax.legend(fontsize="small")
        axes[0][col].set_yscale("log")
        axes[0][col].yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        axes[0][col].yaxis.set_major_formatter(plain)
        axes[0][col].yaxis.set_minor_formatter(NullFormatter())
        axes[1][col].set_ylim(bottom=0)
    axes[0][0].set_ylabel("wall time (s)")
    axes[1][0].set_ylabel("peak memory (MiB)")
    fig.suptitle(f"hetsim scaling: single-GPU jobs, {RATE_PER_GPU} jobs/h per GPU")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    print(f"\nplot: {path}")


def save(points: list[Point], path: Path) -> None:
    """The points as JSON beside the plot, so that it can be drawn again (``--replot``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([asdict(p) for p in points], indent=1) + "\n")
    print(f"points: {path}")


def load(paths: list[Path]) -> list[Point]:
    return [Point(**row) for path in paths for row in json.loads(path.read_text())]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--point", nargs=3, type=int, metavar=("G", "N", "K"), help=argparse.SUPPRESS
    )
    parser.add_argument("--jobs", type=int, nargs="*", default=[1000, 4000, 16000])
    parser.add_argument("--gpus", type=int, nargs="*", default=[100, 1000, 4000])
    parser.add_argument("--axis-gpus", type=int, default=1000, help="GPUs on the jobs axis")
    parser.add_argument("--axis-jobs", type=int, default=4000, help="jobs on the GPUs axis")
    parser.add_argument("--partitions", type=int, nargs="+", default=[1])
    parser.add_argument(
        "--compare-job-by-job",
        action="store_true",
        help="also run every point with max-min programs posed job by job (no job classes)",
    )
    parser.add_argument("--job-by-job", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--policy", default="max_min_fairness_perf")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", type=Path, help="write the plot here (PNG), the points beside it")
    parser.add_argument(
        "--replot", type=Path, nargs="+", metavar="JSON", help="draw --plot from saved points"
    )
    args = parser.parse_args()
    if args.replot:
        if not args.plot:
            parser.error("--replot needs --plot")
        plot(load(args.replot), args.plot)
        return
    if args.point:
        gpus, jobs, parts = args.point
        print(json.dumps(run_point(gpus, jobs, parts, args.policy, args.seed, args.job_by_job)))
        return
    print(
        f"{args.policy}, single-GPU jobs, {RATE_PER_GPU} jobs/h per GPU, seed {args.seed}; "
        "each point a fresh process, one at a time"
    )
    points: list[Point] = []
    for axis, sizes in (("jobs", args.jobs), ("gpus", args.gpus)):
        line = []
        for parts in args.partitions:
            for size in sizes:
                gpus, jobs = (args.axis_gpus, size) if axis == "jobs" else (size, args.axis_jobs)
                line.append(measure(axis, gpus, jobs, parts, args))
        points += line
        report(line, axis)
        if args.compare_job_by_job and line:
            compare(line, [measure(axis, p.gpus, p.jobs, p.parts, args, True) for p in line])
    if args.plot:
        save(points, args.plot.with_suffix(".json"))
        plot(points, args.plot)


if __name__ == "__main__":
    main()
