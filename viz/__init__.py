"""GPUVIZ01: a binary file of a run for the web visualizer, its codec and its server.

``format`` defines the layout (docs/gpuviz01.md), ``rundata`` reads what a run wrote
(events.jsonl, telemetry.parquet, result.json), ``encode`` writes the file, ``decode``
reads it back and ``validate`` checks it; ``serve`` serves the page in ``web/``.
"""
