"""Where outputs go: hetsim replaces only what it wrote, cleans up after signals and
dead runs, and says in one line when it cannot write."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from hetsim.errors import InputError
from hetsim.rundir import MARKER, OWNER, StagedDir, remove_stale_staging
from sweep.runner import run_sweep
from sweep.spec import SPEC_FILE, load_sweep
from tests.cli_helpers import run_cli

SMALL = ["--policy", "fifo", "--cluster", "4:4:4", "--rate", "0.3", "--window", "0:10"]
LONG = ["--policy", "max_min_fairness", "--cluster", "36:36:36", "--rate", "2", "--events"]


def _run(out: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str, str]:
    return run_cli(["run", *SMALL, "--out", str(out), *extra], capsys)


def _staging(parent: Path, name: str) -> list[Path]:
    return sorted(parent.glob(f".{name}.staging-*"))


def test_a_run_marks_its_directory_and_force_replaces_only_its_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The marker lists the run's files; --force replaces them; without it, refused."""
    out = tmp_path / "r"
    code, stdout, _ = _run(out, capsys, "--events")
    assert code == 0
    marker = json.loads((out / MARKER).read_text())
    assert marker == {
        "written_by": "hetsim",
        "files": ["events.jsonl", "jobs.parquet", "result.json", "telemetry.parquet"],
    }
    assert f"wrote {out / 'result.json'} and {out / 'events.jsonl'}" in stdout
    code, _, err = _run(out, capsys)
    assert code == 2 and "give --force" in err
    assert (out / "events.jsonl").exists()
    code, _, _ = _run(out, capsys, "--force", "--quiet")
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == [
        MARKER,
        "jobs.parquet",
        "result.json",
        "telemetry.parquet",
    ]
    assert _staging(tmp_path, "r") == []
    assert [p.name for p in tmp_path.iterdir()] == ["r"]


def test_an_empty_directory_is_taken(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An empty directory holds nothing to lose: the run goes there."""
    out = tmp_path / "empty"
    out.mkdir()
    code, _, _ = _run(out, capsys, "--quiet")
    assert code == 0 and (out / "result.json").is_file()


def test_a_directory_from_before_the_marker_is_recognised_by_its_result(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run directory without a marker but with hetsim's result.json may be replaced."""
    out = tmp_path / "old"
    out.mkdir()
    (out / "result.json").write_text(json.dumps({"hetsim_version": "0.0.9"}))
    code, _, _ = _run(out, capsys, "--quiet", "--force")
    assert code == 0
    assert json.loads((out / "result.json").read_text())["hetsim_version"] != "0.0.9"


def test_files_added_during_the_run_are_never_deleted(tmp_path: Path) -> None:
    """If a user's file appears in the target while the run goes on, the commit refuses
    to replace the directory: the user's file stays, and the run is kept beside it."""
    out = tmp_path / "r"
    out.mkdir()
    (out / "result.json").write_text(json.dumps({"hetsim_version": "0.1.0"}))
    staged = StagedDir(out)
    (staged.path / "result.json").write_text("{}")
    (out / "notes.txt").write_text("mine")
    with staged, pytest.raises(InputError, match=r"notes\.txt.*output is kept in") as info:
        staged.commit()
    assert (out / "notes.txt").read_text() == "mine"
    assert _staging(tmp_path, "r") == []
    (kept,) = tmp_path.glob("r.run-*")
    assert str(kept) in str(info.value)
    assert (kept / "result.json").read_text() == "{}"
    assert (kept / MARKER).is_file()


def test_cannot_create_the_output_is_one_line_and_leaves_no_directories(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read-only file system under --out: one line naming --out, nothing left behind
    (not even the parent directories the run created)."""

    def read_only(*args: object, **kwargs: object) -> str:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr("hetsim.rundir.tempfile.mkdtemp", read_only)
    code, _, err = _run(tmp_path / "a" / "b" / "r", capsys)
    assert code == 2
    assert err.splitlines() == [
        f"hetsim: error: --out: field 'out': cannot write {tmp_path}/a/b/r: Read-only file system"
    ]
    assert list(tmp_path.iterdir()) == []


def test_a_read_only_place_is_refused_before_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """run, sweep and trace -o check that they can write before doing any work."""
    monkeypatch.setattr("hetsim.output.os.access", lambda path, mode: False)
    scenario = tmp_path / "s.toml"
    scenario.write_text(
        'name = "m"\ntrace = "single-gpu"\npolicies = ["fifo"]\nrates = [1.0]\nseeds = [0]\n'
    )
    for argv in (
        ["run", *SMALL, "--out", str(tmp_path / "r")],
        ["sweep", str(scenario), "--out", str(tmp_path / "sw")],
        ["trace", "--rate", "1", "--jobs", "3", "-o", str(tmp_path / "t.tsv")],
    ):
        code, _, err = run_cli(argv, capsys)
        assert code == 2, argv
        assert len(err.splitlines()) == 1 and "--out: field 'out': cannot write in" in err
    assert [p.name for p in tmp_path.iterdir()] == ["s.toml"]


def test_trace_write_error_is_not_hidden_by_its_clean_up(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """When writing the trace fails and so does removing the temporary file, the user
    sees why the write failed, in one line."""

    def fail(*args: object, **kwargs: object) -> int:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr("workloads.trace.os.open", fail)
    monkeypatch.setattr("workloads.trace.os.unlink", fail)
    code, _, err = run_cli(
        ["trace", "--rate", "1", "--jobs", "3", "-o", str(tmp_path / "t.tsv")], capsys
    )
    assert code == 2
    assert err.splitlines() == [
        f"hetsim: error: --out: field 'out': cannot write {tmp_path / 't.tsv'}: "
        "Read-only file system"
    ]


def test_a_backend_that_cannot_start_leaves_no_sweep_behind(tmp_path: Path) -> None:
    """An unreachable Dask scheduler (any backend failing to open) writes nothing."""
    scenario = tmp_path / "s.toml"
    scenario.write_text(
        'name = "m"\ntrace = "single-gpu"\npolicies = ["fifo"]\nrates = [1.0]\nseeds = [0]\n'
    )
    spec = load_sweep(scenario)

    @contextmanager
    def unreachable() -> Iterator[object]:
        raise InputError("cannot reach the Dask scheduler", source="--dask", field="dask")
        yield  # pragma: no cover

    out = tmp_path / "sw"
    with pytest.raises(InputError, match="Dask"):
        run_sweep(spec, out, unreachable)  # type: ignore[arg-type]
    assert not out.exists()
    assert not (out / SPEC_FILE).exists()


def test_the_staging_of_a_live_run_is_left_alone(tmp_path: Path) -> None:
    """A staging directory whose owner is alive (this process) is not removed; one whose
    owner is dead is; one without an owner only once it is old."""
    final = tmp_path / "r"
    live = tmp_path / ".r.staging-live"
    dead = tmp_path / ".r.staging-dead"
    fresh = tmp_path / ".r.staging-fresh"
    old = tmp_path / ".r.staging-old"
    for path in (live, dead, fresh, old):
        path.mkdir()
    (live / OWNER).write_text(f"{os.getpid()}\n")
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    (dead / OWNER).write_text(f"{child.pid}\n")
    an_hour_ago = time.time() - 3600
    os.utime(old, (an_hour_ago, an_hour_ago))
    removed = remove_stale_staging(final)
    assert sorted(removed) == sorted([dead, old])
    assert live.is_dir() and fresh.is_dir()


def _start_long_run(out: Path) -> subprocess.Popen[str]:
    """A run that takes minutes, once its staging directory holds a partial events file."""
    hetsim = Path(sys.executable).with_name("hetsim")
    proc = subprocess.Popen(
        [str(hetsim), "run", *LONG, "--quiet", "--out", str(out)],
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        staged = _staging(out.parent, out.name)
        events = staged[0] / "events.jsonl" if staged else None
        if events is not None and events.is_file() and events.stat().st_size > 0:
            assert (events.parent / OWNER).is_file()
            return proc
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    proc.kill()
    raise AssertionError("the run did not start")


def test_sigterm_cleans_up_as_sigint_does(tmp_path: Path) -> None:
    """SIGTERM mid-run: exit 143, one line, no staging directory, no output, no parents."""
    out = tmp_path / "a" / "r"
    proc = _start_long_run(out)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143
    assert err.splitlines() == ["hetsim: terminated"]
    assert list(tmp_path.iterdir()) == []


def test_after_sigkill_the_next_run_leaves_nothing_stale(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run killed with SIGKILL leaves its staging directory; the next run to the same
    place removes it."""
    out = tmp_path / "r"
    proc = _start_long_run(out)
    proc.kill()
    proc.communicate(timeout=60)
    assert len(_staging(tmp_path, "r")) == 1
    code, _, _ = _run(out, capsys, "--quiet")
    assert code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]


def test_a_last_server_smaller_than_the_rest_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """5 V100s in servers of 2: the summary and result.json say the last server has 1."""
    out = tmp_path / "r"
    code, stdout, _ = run_cli(
        [
            "run",
            *SMALL[:2],
            "--cluster",
            "5:4:4",
            "--gpus-per-server",
            "2",
            *SMALL[4:],
            "--out",
            str(out),
        ],
        capsys,
    )
    assert code == 0
    assert json.loads((out / "result.json").read_text())["partial_servers"] == {"v100": 1}
    assert "v100: 5 GPUs in servers of 2 leave a last server of 1" in stdout
