"""Sweeps: a scenario's policies x rates x seeds, run locally or on Dask, resumably.

:mod:`sweep.spec` reads scenario files, :mod:`sweep.runner` runs them (one
:mod:`sweep.task` per run on a :mod:`sweep.executors` backend), :mod:`sweep.table`
writes results.csv, and :mod:`sweep.report` the comparison and plots.
"""
