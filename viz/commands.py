"""``hetsim viz``: encode a run into a GPUVIZ01 file, inspect or validate one, serve the page.

Registered on the main CLI by hetsim/cli.py; every error is an InputError, so it ends
as one line naming the file (and the section and offset) with exit code 2.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from hetsim.errors import InputError
from viz.decode import VizFormatError, summary, validate
from viz.encode import encode_run


def _read(path: str) -> bytes:
    p = Path(path)
    if not p.is_file():
        raise InputError("no such file", source=path)
    return p.read_bytes()


@click.group()
def viz() -> None:
    """The GPUVIZ01 file of a run and the web visualizer."""


@viz.command()
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("-o", "--out", "out_path", type=click.Path(dir_okay=False), help="[DIR/run.viz.bin]")
@click.option(
    "--queue",
    type=click.Choice(["compact", "raw"]),
    default="compact",
    show_default=True,
    help="Queue section: varint deltas (compact) or plain uint32 ids (raw).",
)
def encode(directory: str, out_path: str | None, queue: str) -> None:
    """Encode the run in DIRECTORY (needs events.jsonl and telemetry) into a file."""
    src = Path(directory)
    if not src.is_dir():
        raise InputError("no such run directory", source=directory)
    out = Path(out_path) if out_path else src / "run.viz.bin"
    start = time.perf_counter()
    size = encode_run(src, out, compact_queue=queue == "compact")
    click.echo(f"wrote {out} ({size:,} bytes in {time.perf_counter() - start:.2f} s)")


@viz.command()
@click.argument("path", type=click.Path(dir_okay=False))
def inspect(path: str) -> None:
    """Describe a GPUVIZ01 file: counts, sections, offsets and sizes."""
    data = _read(path)
    try:
        lines = summary(data)
    except VizFormatError as exc:
        raise InputError(str(exc), source=path) from None
    for line in lines:
        click.echo(line)


@viz.command(name="validate")
@click.argument("path", type=click.Path(dir_okay=False))
def validate_cmd(path: str) -> None:
    """Check a GPUVIZ01 file completely; exit 2 naming the section and offset if not valid."""
    data = _read(path)
    try:
        run = validate(data)
    except VizFormatError as exc:
        raise InputError(str(exc), source=path) from None
    click.echo(f"{path}: valid GPUVIZ01 ({run.num_rounds:,} rounds, {run.job_ids.size:,} jobs)")


@viz.command()
@click.argument("directories", nargs=-1, required=True, type=click.Path(file_okay=False))
@click.option("--port", type=int, default=8765, show_default=True, help="0: any free port.")
def serve(directories: tuple[str, ...], port: int) -> None:
    """Serve the visualizer for DIR (and DIR2, to compare) on 127.0.0.1."""
    from viz.serve import make_server

    if len(directories) > 2:
        raise InputError("give one run directory, or two to compare", field="directories")
    for d in directories:
        if not Path(d).is_dir():
            raise InputError("no such run directory", source=d)
    if not 0 <= port <= 65535:
        raise InputError(f"port must be 0-65535, not {port}", source="--port", field="port")
    try:
        server, url = make_server([Path(d) for d in directories], port)
    except OSError as exc:
        raise InputError(
            f"cannot listen on 127.0.0.1:{port} ({exc.strerror})", source="--port"
        ) from None
    click.echo(f"serving {', '.join(directories)} at {url}")
    click.echo("press Ctrl-C to stop")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
