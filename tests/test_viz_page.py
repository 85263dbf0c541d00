"""The visualizer page in headless Chromium (Debian's package, driven by Playwright):
load a served run, play, seek, hover a GPU, compare two runs, open a local file.

Chromium is installed by scripts/bootstrap.sh; when it is missing these tests fail
(they never skip), so CI cannot pass without having looked at the page.
"""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from hetsim.cli import main
from viz.browser import CHROMIUM, launch
from viz.decode import decode
from viz.format import IDLE
from viz.serve import VIZ_FILE, serve_in_thread

ARTIFACTS = Path(os.environ.get("HETSIM_ARTIFACTS", "test-artifacts"))


def _run(out: Path, policy: str) -> Path:
    main(
        ["run", "--policy", policy, "--cluster", "4:4:4", "--rate", "1.0", "--multi-gpu",
         "--gpus-per-server", "2", "--max-jobs", "30", "--events", "--quiet", "--out", str(out)]
    )  # fmt: skip
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("page")
    return _run(base / "perf", "max_min_fairness_perf"), _run(base / "agnostic", "max_min_fairness")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: run scripts/bootstrap.sh"
    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


class Watched:
    """A page with its console errors collected."""

    def __init__(self, browser: Browser) -> None:
        self.page: Page = browser.new_page(viewport={"width": 1500, "height": 1000})
        self.errors: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def _console(self, msg: ConsoleMessage) -> None:
        if msg.type == "error":
            self.errors.append(msg.text)

    def open(self, url: str) -> Page:
        self.page.goto(url)
        try:
            self.page.wait_for_function(
                "window.__viz && window.__viz.firstFrameMs !== null", timeout=30_000
            )
        except Exception:
            status = self.page.text_content("#status")
            message = f"no first frame; status {status!r}, errors {self.errors}"
            raise AssertionError(message) from None
        return self.page

    def round(self) -> int:
        return int(self.page.evaluate("window.__vizModel.round"))


@pytest.fixture
def served(runs: tuple[Path, Path]) -> Iterator[str]:
    server, url = serve_in_thread([runs[0]])
    yield url
    server.shutdown()


def test_load_play_and_seek_a_served_run(browser: Browser, served: str) -> None:
    """The first frame shows round 1 with painted cells; playing advances, pausing stops;
    seeking to a round and to an hour lands there."""
    w = Watched(browser)
    page = w.open(served)
    assert (
        page.text_content("#round") == f"round 1 / {page.evaluate('window.__vizModel.numRounds')}"
    )
    assert "round 1 · t = 0.0 h" in (page.text_content("[data-testid=caption-0]") or "")
    painted = page.evaluate("window.__vizViews[0].grid.cellsPainted")
    assert painted == page.evaluate("window.__vizViews[0].source.header.numGpus")
    page.keyboard.press("Space")
    page.wait_for_function("window.__vizModel.round > 10", timeout=10_000)
    page.keyboard.press("Space")
    stopped = w.round()
    page.wait_for_timeout(300)
    assert w.round() == stopped and "play" in (page.text_content("#play") or "")
    page.fill("#seekbox", "40")
    page.press("#seekbox", "Enter")
    page.wait_for_function("document.body.dataset.round === '39'")
    assert "round 40 ·" in (page.text_content("[data-testid=caption-0]") or "")
    page.fill("#seekbox", "20h")
    page.press("#seekbox", "Enter")
    page.wait_for_timeout(200)
    caption = page.text_content("[data-testid=caption-0]") or ""
    hours = float(caption.split("t = ")[1].split(" h")[0])
    assert 19.0 <= hours <= 20.0
    page.keyboard.press("Escape")  # leaves the seek box, so keys drive the player again
    page.keyboard.press("End")
    page.wait_for_function("window.__vizModel.round === window.__vizModel.numRounds - 1")
    page.keyboard.press("ArrowLeft")
    assert w.round() == page.evaluate("window.__vizModel.numRounds - 2")
    assert w.errors == []


def test_hovering_a_gpu_tells_its_jobs_story(
    browser: Browser, served: str, runs: tuple[Path, Path]
) -> None:
    """Hovering a busy GPU shows the job the file places there, with model and JCT."""
    data = decode((runs[0] / VIZ_FILE).read_bytes())
    k = next(k for k in range(data.num_rounds) if (data.round_gpu_job[k] != IDLE).any())
    k = max(k, 10)
    gpu = int(next(g for g, j in enumerate(data.round_gpu_job[k]) if j != IDLE))
    job = int(data.round_gpu_job[k][gpu])
    row = data.job_ids.tolist().index(job)
    w = Watched(browser)
    page = w.open(served)
    page.fill("#seekbox", str(k + 1))
    page.press("#seekbox", "Enter")
    page.wait_for_function(f"document.body.dataset.round === '{k}'")
    x, y = page.evaluate(f"window.__vizViews[0].grid.cellCentre({gpu})")
    box = page.locator("[data-testid=grid-0]").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + x, box["y"] + y)
    page.wait_for_function(f"document.getElementById('job').textContent.includes('job {job}')")
    story = page.text_content("#job") or ""
    assert f"GPU {gpu}" in story and data.models[data.job_model[row]] in story
    if data.job_finish_s[row] == data.job_finish_s[row]:  # finished: its JCT is shown
        jct_h = (data.job_finish_s[row] - data.job_arrival_s[row]) / 3600
        assert f"JCT {jct_h:.2f} h" in story
    assert w.errors == []


def test_compare_mode_shares_one_cursor(browser: Browser, runs: tuple[Path, Path]) -> None:
    """Two runs side by side: both grids, both captions at the same simulated hour after
    a seek; a screenshot is kept as an artefact."""
    server, url = serve_in_thread(list(runs))
    try:
        w = Watched(browser)
        page = w.open(url)
        assert page.locator("canvas.grid").count() == 2
        page.fill("#seekbox", "30h")
        page.press("#seekbox", "Enter")
        page.wait_for_timeout(300)
        hours = []
        for i in (0, 1):
            caption = page.text_content(f"[data-testid=caption-{i}]") or ""
            hours.append(float(caption.split("t = ")[1].split(" h")[0]))
        assert abs(hours[0] - hours[1]) <= 0.2  # one round is 0.1 h
        assert "max_min_fairness_perf" in (page.text_content(".run[data-run='0'] h2") or "")
        assert "max_min_fairness" in (page.text_content(".run[data-run='1'] h2") or "")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "viz-compare.png"), full_page=True)
        assert w.errors == []
    finally:
        server.shutdown()


def test_a_local_file_opens_through_the_picker(
    browser: Browser, runs: tuple[Path, Path], tmp_path: Path
) -> None:
    """A .viz.bin chosen in the page is read locally and shown; a truncated one is an
    error naming the section and offset."""
    blob = (runs[0] / VIZ_FILE).read_bytes() if (runs[0] / VIZ_FILE).exists() else None
    if blob is None:
        from viz.encode import encode_run

        encode_run(runs[0], runs[0] / VIZ_FILE)
        blob = (runs[0] / VIZ_FILE).read_bytes()
    good = tmp_path / "local.viz.bin"
    good.write_bytes(blob)
    server, url = serve_in_thread([runs[0]])
    try:
        w = Watched(browser)
        page = w.page
        page.goto(url.split("?")[0])
        page.set_input_files("#file", str(good))
        page.wait_for_function("window.__viz.firstFrameMs !== null", timeout=30_000)
        assert "local.viz.bin" in (page.text_content(".run h2") or "")
        assert "round 1 ·" in (page.text_content("[data-testid=caption-0]") or "")
        page.set_input_files("#file", str(good))  # a second open replaces the first
        page.wait_for_function("window.__viz.firstFrameMs !== null", timeout=30_000)
        page.keyboard.press("ArrowRight")
        assert w.round() == 1  # one step: the first controller's listeners are gone
        cut = tmp_path / "cut.viz.bin"
        cut.write_bytes(blob[:-16])
        page.set_input_files("#file", str(cut))
        page.wait_for_function("document.getElementById('status').className === 'error'")
        assert "section 'header' at offset 56" in (page.text_content("#status") or "")
        assert w.errors == []
    finally:
        server.shutdown()


def test_the_server_serves_ranges_and_nothing_else(runs: tuple[Path, Path]) -> None:
    """Range requests give 206 with the bytes asked for; paths outside the page and the
    run files are 404; it listens on 127.0.0.1."""
    server, _ = serve_in_thread([runs[0]])
    try:
        host, port = server.server_address[:2]
        assert host == "127.0.0.1"
        base = f"http://127.0.0.1:{port}"
        blob = (runs[0] / VIZ_FILE).read_bytes()

        def get(path: str, **headers: str) -> Any:
            req = urllib.request.Request(base + path, headers=headers)
            try:
                return urllib.request.urlopen(req, timeout=10)
            except urllib.error.HTTPError as exc:
                return exc

        r = get("/run/0/" + VIZ_FILE, Range="bytes=8-15")
        assert r.status == 206 and r.read() == blob[8:16]
        assert r.headers["Content-Range"] == f"bytes 8-15/{len(blob)}"
        r = get("/run/0/" + VIZ_FILE, Range="bytes=-8")
        assert r.status == 206 and r.read() == blob[-8:]
        assert get("/run/0/" + VIZ_FILE, Range=f"bytes={len(blob)}-").status == 416
        assert get("/run/0/" + VIZ_FILE).read() == blob
        for path in ("/run/1/" + VIZ_FILE, "/../result.json", "/run/0/result.json",
                     "/%2e%2e/etc/passwd", "/etc/passwd", "/run/0/../../events.jsonl"):  # fmt: skip
            assert get(path).status == 404, path
        assert get("/decoder.js").status == 200
    finally:
        server.shutdown()


def test_a_truncated_served_file_is_an_error_on_the_page(
    browser: Browser, runs: tuple[Path, Path], tmp_path: Path
) -> None:
    """A served file shorter than its header says: the page names the header's offset 56."""
    import shutil

    run = tmp_path / "cut-run"
    shutil.copytree(runs[0], run)
    from viz.encode import encode_run

    encode_run(run, run / VIZ_FILE)
    (run / VIZ_FILE).write_bytes((run / VIZ_FILE).read_bytes()[:-64])  # newer than the run
    server, url = serve_in_thread([run])
    try:
        w = Watched(browser)
        w.page.goto(url)
        w.page.wait_for_function("document.getElementById('status').className === 'error'")
        assert "section 'header' at offset 56" in (w.page.text_content("#status") or "")
    finally:
        server.shutdown()
