"""The cluster: GPU types and counts (``ClusterSpec``), its server layout
(``Topology``) and the per-round placement of jobs on GPUs (``Placer``).

It knows nothing of SimPy or of scheduling policy: the scheduler decides which
jobs should run, and ``Placer`` says whether and where they fit.
"""

from cluster.placement import Placer, Topology
from cluster.spec import DEFAULT_TYPE_ORDER, ClusterSpec, load_cluster_toml, parse_cluster

__all__ = [
    "DEFAULT_TYPE_ORDER",
    "ClusterSpec",
    "Placer",
    "Topology",
    "load_cluster_toml",
    "parse_cluster",
]
