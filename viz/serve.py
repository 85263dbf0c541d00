"""``hetsim viz serve``: the visualizer page and one or two runs' files, on 127.0.0.1.

Only the page's own files (``viz/web``) and ``/run/N/run.viz.bin`` for the run
directories given are served, with HTTP Range support (the page fetches the header and
blocks of rounds on demand); every other path is 404. A run without an up-to-date
``run.viz.bin`` is encoded when the server starts (into the run directory, or in
memory when the directory is read-only).
"""

from __future__ import annotations

import re
import threading
import urllib.parse
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path

import structlog

from viz.encode import encode
from viz.rundata import read_run

log = structlog.get_logger()

VIZ_FILE = "run.viz.bin"
HOST = "127.0.0.1"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


@dataclass
class ServedRun:
    """One run's file: on disk (``path``) or in memory (``data``)."""

    label: str
    path: Path | None
    data: bytes | None

    def size(self) -> int:
        return len(self.data) if self.data is not None else self.path.stat().st_size  # type: ignore[union-attr]

    def read(self, start: int, length: int) -> bytes:
        if self.data is not None:
            return self.data[start : start + length]
        assert self.path is not None
        with self.path.open("rb") as fh:
            fh.seek(start)
            return fh.read(length)


def prepare_run(directory: Path) -> ServedRun:
    """The run's GPUVIZ01 file, encoded now when it is missing or older than the run."""
    target = directory / VIZ_FILE
    sources = [p for p in directory.iterdir() if p.name in ("events.jsonl", "result.json")]
    sources += [p for p in directory.glob("telemetry.*")]
    fresh = target.is_file() and all(target.stat().st_mtime >= p.stat().st_mtime for p in sources)
    if fresh:
        return ServedRun(directory.name, target, None)
    blob = encode(read_run(directory))
    try:
        from hetsim.output import write_bytes_atomic

        write_bytes_atomic(target, blob)
        return ServedRun(directory.name, target, None)
    except OSError:
        return ServedRun(directory.name, None, blob)


def web_files() -> dict[str, bytes]:
    """The page's files by name (package data)."""
    root = resources.files("viz") / "web"
    return {
        entry.name: entry.read_bytes()
        for entry in root.iterdir()
        if entry.is_file() and Path(entry.name).suffix in CONTENT_TYPES
    }


def page_url(port: int, runs: list[ServedRun]) -> str:
    """The URL that opens the page on these runs (the second one in compare mode)."""
    query = {"run": "/run/0/" + VIZ_FILE, "label1": runs[0].label}
    if len(runs) > 1:
        query |= {"compare": "/run/1/" + VIZ_FILE, "label2": runs[1].label}
    return f"http://{HOST}:{port}/index.html?{urllib.parse.urlencode(query)}"


def make_handler(runs: list[ServedRun], files: dict[str, bytes]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "hetsim-viz"

        def log_message(self, format: str, *args: object) -> None:
            log.debug("viz_request", line=format % args)

        def do_HEAD(self) -> None:
            self._serve(head=True)

        def do_GET(self) -> None:
            self._serve(head=False)

        def _serve(self, head: bool) -> None:
            path = urllib.parse.urlsplit(self.path).path
            if path == "/":
                self.send_response(HTTPStatus.SEE_OTHER)
                port = int(self.server.server_address[1])  # type: ignore[index]
                self.send_header("Location", page_url(port, runs))
                self.end_headers()
                return
            match = re.fullmatch(r"/run/(\d+)/" + re.escape(VIZ_FILE), path)
            if match and int(match.group(1)) < len(runs):
                self._send_run(runs[int(match.group(1))], head)
                return
            name = path.lstrip("/")
            if name in files:
                body = files[name]
                self.send_response(HTTPStatus.OK)
                self.send_header("Content-Type", CONTENT_TYPES[Path(name).suffix])
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                if not head:
                    self.wfile.write(body)
                return
            self.send_error(HTTPStatus.NOT_FOUND)

        def _send_run(self, run: ServedRun, head: bool) -> None:
            size = run.size()
            start, end = 0, size
            header = self.headers.get("Range")
            status = HTTPStatus.OK
            if header is not None:
                m = _RANGE.match(header.strip())
                if m is None or (not m.group(1) and not m.group(2)):
                    self._unsatisfiable(size)
                    return
                if m.group(1):
                    start = int(m.group(1))
                    end = min(size, int(m.group(2)) + 1) if m.group(2) else size
                else:
                    start = max(0, size - int(m.group(2)))
                if start >= size or start >= end:
                    self._unsatisfiable(size)
                    return
                status = HTTPStatus.PARTIAL_CONTENT
            self.send_response(status)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(end - start))
            self.send_header("Cache-Control", "no-cache")
            if status == HTTPStatus.PARTIAL_CONTENT:
                self.send_header("Content-Range", f"bytes {start}-{end - 1}/{size}")
            self.end_headers()
            if not head:
                self.wfile.write(run.read(start, end - start))

        def _unsatisfiable(self, size: int) -> None:
            self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler


def make_server(directories: list[Path], port: int = 0) -> tuple[ThreadingHTTPServer, str]:
    """A server (not yet serving) for these runs and the page URL to open."""
    runs = [prepare_run(d) for d in directories]
    server = ThreadingHTTPServer((HOST, port), make_handler(runs, web_files()))
    server.daemon_threads = True
    return server, page_url(server.server_address[1], runs)


def serve_in_thread(directories: list[Path], port: int = 0) -> tuple[ThreadingHTTPServer, str]:
    """Starts serving in a daemon thread (tests, benchmarks); ``server.shutdown()`` ends it."""
    server, url = make_server(directories, port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, url
