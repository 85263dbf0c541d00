"""Benchmark: a run's GPUVIZ01 file and the page playing it in headless Chromium.

Encodes ``DIR`` (a run made with ``--events``) with both queue encodings and prints
the sizes and the encode time, then serves it, opens the page in Debian's chromium
(Playwright) and measures the time to the first frame and the frames per second while
playing at a given speed (rounds per second), with the rounds actually shown.

Usage: ``.venv/bin/python benchmarks/bench_viz.py DIR [DIR2] [--speed 300]
[--seconds 5] [--screenshot FILE [--at ROUND|HOURSh]]``: the screenshot is taken after
playing, or at the seek box's ``--at`` (a round, ``1200``, or an hour, ``50h``). Not part
of the test suite.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from hetsim.eventlog import configure_logging
from viz.browser import launch
from viz.encode import encode
from viz.rundata import read_run
from viz.serve import VIZ_FILE, serve_in_thread


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="+", type=Path)
    parser.add_argument("--speed", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--screenshot", type=Path)
    parser.add_argument("--at", help="seek here before the screenshot: a round or HOURSh")
    args = parser.parse_args()
    configure_logging(None)  # warnings to stderr, as `hetsim run`
    run_dir = args.dirs[0]
    t0 = time.perf_counter()
    data = read_run(run_dir)
    t1 = time.perf_counter()
    compact = encode(data, compact_queue=True)
    t2 = time.perf_counter()
    raw = encode(data, compact_queue=False)
    waiting = sum(q.size for q in data.queues)
    print(
        f"{run_dir}: {data.num_rounds:,} rounds, {data.job_ids.size:,} jobs, "
        f"{waiting:,} queue entries"
    )
    print(f"  read events + telemetry {t1 - t0:.2f} s, encode {t2 - t1:.2f} s")
    from viz.decode import read_header

    for name, blob in (("compact", compact), ("raw", raw)):
        h = read_header(blob)
        print(
            f"  {name:8s} {len(blob):>12,} bytes: rounds {h.num_rounds * h.round_size:,}, "
            f"queue {h.queue_size:,} + index {(h.num_rounds + 1) * 8:,}"
        )
    (run_dir / VIZ_FILE).write_bytes(compact)
    server, url = serve_in_thread(args.dirs)
    try:
        with sync_playwright() as p:
            browser = launch(p)
            page = browser.new_page(viewport={"width": 1500, "height": 1000})
            start = time.perf_counter()
            page.goto(url)
            page.wait_for_function(
                "window.__viz && window.__viz.firstFrameMs !== null", timeout=60_000
            )
            wall_first = time.perf_counter() - start
            first = page.evaluate("window.__viz.firstFrameMs")
            print(
                f"  first frame {first:.0f} ms after the page's module started "
                f"({wall_first * 1e3:.0f} ms from navigation)"
            )
            page.select_option("#speed", str(args.speed))
            frames0 = page.evaluate("window.__viz.frames")
            round0 = page.evaluate("window.__vizModel.round")
            page.click("#play")
            page.wait_for_timeout(args.seconds * 1000)
            page.click("#play")
            frames = page.evaluate("window.__viz.frames") - frames0
            rounds = page.evaluate("window.__vizModel.round") - round0
            print(
                f"  playing at {args.speed} rounds/s for {args.seconds:.0f} s: "
                f"{frames / args.seconds:.1f} frames/s, "
                f"{rounds / args.seconds:.0f} rounds/s shown"
            )
            if args.screenshot and args.at:
                page.fill("#seekbox", args.at)
                page.press("#seekbox", "Enter")
                page.wait_for_timeout(1000)
                print(f"  screenshot at {page.text_content('#round')}")
            if args.screenshot:
                page.screenshot(path=str(args.screenshot), full_page=True)
            browser.close()
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
