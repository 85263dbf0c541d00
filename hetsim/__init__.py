"""hetsim: a discrete-event simulator of heterogeneous GPU clusters under round-based scheduling."""

__version__ = "0.1.0"
