"""Where jobs run: GPU ids, servers, and the per-round placement of jobs on them.

GPU ids are ``0 .. total-1``, numbered type by type in the spec's order. Each
type's GPUs are cut into servers of ``gpus_per_server`` GPUs (the last server
of a type is smaller when the count is not a multiple); server indices are
global and also run type by type.

A round of placement is ``begin_round()``, then one ``reserve()`` per job the
scheduler wants to run (it answers whether the job fits next to the earlier
reservations), then ``commit()``, which turns the reservations into concrete
GPU ids. A job's GPUs of one type must share one server when the job fits on
one server; a larger job takes whole free servers. With one GPU per server
(the reference's default) this reduces to counting free GPUs.
"""

from __future__ import annotations

from operator import itemgetter

import numpy as np
import numpy.typing as npt

from cluster.spec import ClusterSpec

Reservation = tuple[int, int, tuple[int, ...] | None, int, tuple[tuple[int, int], ...] | None]
"""(key, num_gpus, previous, pool, parts): ``pool`` >= 0 for a one-pool
reservation of ``num_gpus`` GPUs; otherwise ``pool`` is -1 and ``parts`` holds
(pool, amount) pairs."""


class Topology:
    """The fixed layout of a cluster: which GPU is of which type and on which server."""

    def __init__(self, spec: ClusterSpec) -> None:
        self.spec = spec
        self.gpu_types: tuple[str, ...] = spec.gpu_types
        self.counts: tuple[int, ...] = spec.counts
        self.gpus_per_server: tuple[int, ...] = spec.gpus_per_server
        self.num_types: int = spec.num_types
        self.num_gpus: int = spec.total_gpus

        type_of_gpu: list[int] = []
        server_of_gpu: list[int] = []
        gpus_of_type: list[tuple[int, ...]] = []
        servers_of_type: list[tuple[int, ...]] = []
        gpus_of_server: list[tuple[int, ...]] = []
        type_of_server: list[int] = []
        first = 0
        for index, (count, size) in enumerate(zip(spec.counts, spec.gpus_per_server, strict=True)):
            servers: list[int] = []
            for start in range(first, first + count, size):
                members = tuple(range(start, min(start + size, first + count)))
                servers.append(len(gpus_of_server))
                server_of_gpu.extend([len(gpus_of_server)] * len(members))
                gpus_of_server.append(members)
                type_of_server.append(index)
            type_of_gpu.extend([index] * count)
            gpus_of_type.append(tuple(range(first, first + count)))
            servers_of_type.append(tuple(servers))
            first += count

        self.gpu_type: npt.NDArray[np.intp] = np.array(type_of_gpu, dtype=np.intp)
        """GPU id -> type index."""
        self.server_of: npt.NDArray[np.intp] = np.array(server_of_gpu, dtype=np.intp)
        """GPU id -> global server index."""
        self.gpu_type.setflags(write=False)
        self.server_of.setflags(write=False)
        self.gpus_of_type: tuple[tuple[int, ...], ...] = tuple(gpus_of_type)
        self.servers_of_type: tuple[tuple[int, ...], ...] = tuple(servers_of_type)
        self.gpus_of_server: tuple[tuple[int, ...], ...] = tuple(gpus_of_server)
        self.type_of_server: tuple[int, ...] = tuple(type_of_server)
        self.num_servers: int = len(gpus_of_server)

    def type_index(self, gpu_type: str) -> int:
        """The index of a GPU type by name (case-insensitive); KeyError if absent."""
        try:
            return self.gpu_types.index(gpu_type.lower())
        except ValueError:
            raise KeyError(f"no GPU type {gpu_type!r} in this cluster") from None

    def __repr__(self) -> str:
        parts = ", ".join(
            f"{name}={count}/{size}"
            for name, count, size in zip(
                self.gpu_types, self.counts, self.gpus_per_server, strict=True
            )
        )
        return f"Topology({parts})"


# Up to this many jobs a round is placed by a loop; past it, on arrays (place_counted):
# the two take the same time at about 350 jobs (16 against 38 us at 50, 101 against 94
# at 400).
_LOOP_PLACE_MAX = 320


class Placer:
    """Per-round placement with contiguity; see the module docstring for the protocol.

    The hot path (``reserve`` and ``commit`` on one-GPU servers) works on plain
    lists of ints: a "pool" is a group of GPUs a reservation draws from, one
    per multi-GPU server plus one per type with one GPU per server.
    """

    __slots__ = (
        "_assigned",
        "_capacity",
        "_counts",
        "_keys",
        "_num_gpus",
        "_pool_gpus",
        "_pool_of_gpu",
        "_pool_of_gpu_array",
        "_reference",
        "_reservations",
        "_server_free",
        "_server_of",
        "_servers_of_type",
        "_sizes",
        "_type_free",
        "_type_gpus_array",
        "_type_of_server",
        "_type_pool",
        "counts_only",
        "topology",
    )

    def __init__(self, topology: Topology, *, reference_order: bool = False) -> None:
        self.topology = topology
        # The reference's order of handing out GPU ids (with quirks; one GPU per server).
        self._reference = reference_order and all(size == 1 for size in topology.gpus_per_server)
        num_servers = topology.num_servers
        self._num_gpus = topology.num_gpus
        self._counts = list(topology.counts)
        self._sizes = list(topology.gpus_per_server)
        self._capacity = [len(gpus) for gpus in topology.gpus_of_server]
        self._servers_of_type = [list(servers) for servers in topology.servers_of_type]
        self._type_of_server = list(topology.type_of_server)
        self._server_of: list[int] = topology.server_of.tolist()
        # pools 0..num_servers-1 are the servers; num_servers + t is all of type t
        self._pool_gpus: list[tuple[int, ...]] = [
            *topology.gpus_of_server,
            *topology.gpus_of_type,
        ]
        self._type_pool = [num_servers + t for t in range(topology.num_types)]
        self._pool_of_gpu = [
            self._type_pool[t] if self._sizes[t] == 1 else self._server_of[g]
            for g, t in enumerate(topology.gpu_type.tolist())
        ]
        self._type_free = list(self._counts)
        self._server_free = list(self._capacity)
        self._reservations: list[Reservation] = []
        self._keys: set[int] = set()
        self._assigned = bytearray(self._num_gpus)
        # One GPU per server everywhere: a reservation that fits the type's free GPUs
        # always succeeds (the mechanism may then walk without asking).
        self.counts_only: bool = all(size == 1 for size in self._sizes)
        # The same tables as arrays, for placing a whole round at once (place_counted).
        self._pool_of_gpu_array = np.array(self._pool_of_gpu, dtype=np.int64)
        self._type_gpus_array = [np.array(g, dtype=np.int64) for g in topology.gpus_of_type]

    def begin_round(self) -> None:
        """Start a new round: every GPU is free again and no job is reserved."""
        self._type_free[:] = self._counts
        self._server_free[:] = self._capacity
        self._reservations.clear()
        self._keys.clear()

    def free_gpus(self, type_index: int) -> int:
        """GPUs of the type not reserved yet this round (fragmentation ignored)."""
        return self._type_free[type_index]

    def reserve(
        self,
        key: int,
        type_index: int,
        num_gpus: int,
        previous: tuple[int, ...] | None,
    ) -> bool:
        """Reserve ``num_gpus`` GPUs of a type for job ``key`` if they fit; True if so.

        ``previous`` is the job's GPUs of the last round (or None): its server is
        preferred, and ``commit`` gives the same GPUs back when it can. When the
        job does not fit, nothing changes and the answer is False.
        """
        if num_gpus < 1:
            raise ValueError(f"job {key}: num_gpus must be >= 1, got {num_gpus}")
        keys = self._keys
        if key in keys:
            raise ValueError(f"job {key} is already reserved this round")
        type_free = self._type_free
        if type_free[type_index] < num_gpus:
            return False
        size = self._sizes[type_index]
        if size == 1:
            type_free[type_index] -= num_gpus
            keys.add(key)
            self._reservations.append((key, num_gpus, previous, self._type_pool[type_index], None))
            return True
        if num_gpus <= size:
            server = self._pick_server(type_index, num_gpus, previous)
            if server < 0:
                return False
            self._server_free[server] -= num_gpus
            self._reservations.append((key, num_gpus, previous, server, None))
        else:
            parts = self._pick_servers(type_index, num_gpus, previous)
            if parts is None:
                return False
            server_free = self._server_free
            for server, amount in parts:
                server_free[server] -= amount
            self._reservations.append((key, num_gpus, previous, -1, parts))
        type_free[type_index] -= num_gpus
        keys.add(key)
        return True

    def _pick_server(self, type_index: int, num_gpus: int, previous: tuple[int, ...] | None) -> int:
        """One server of the type with room for the job, or -1: previous's, else best fit."""
        server_free = self._server_free
        if previous:
            server = self._server_of_all(previous)
            if (
                server >= 0
                and self._type_of_server[server] == type_index
                and server_free[server] >= num_gpus
            ):
                return server
        best = -1
        best_free = self._sizes[type_index] + 1
        for server in self._servers_of_type[type_index]:
            free = server_free[server]
            if num_gpus <= free < best_free:
                best, best_free = server, free
                if free == num_gpus:
                    break
        return best

    def _server_of_all(self, gpus: tuple[int, ...]) -> int:
        """The server holding all of ``gpus``, or -1 if they span servers or are invalid."""
        server_of = self._server_of
        total = self._num_gpus
        first = gpus[0]
        if not 0 <= first < total:
            return -1
        server = server_of[first]
        for gpu in gpus:
            if not 0 <= gpu < total or server_of[gpu] != server:
                return -1
        return server

    def _pick_servers(
        self, type_index: int, num_gpus: int, previous: tuple[int, ...] | None
    ) -> tuple[tuple[int, int], ...] | None:
        """Wholly free servers of the type holding ``num_gpus`` GPUs, or None.

        Servers are picked from previous's servers first, then by lowest index,
        until they hold the job; they are then filled whole in index order, the
        last one giving the remainder (a server left with nothing to give is
        not taken). Returns (server, amount) pairs in index order.
        """
        server_free = self._server_free
        capacity = self._capacity
        chosen: list[int] = []
        room = 0
        if previous:
            total = self._num_gpus
            server_of = self._server_of
            type_of_server = self._type_of_server
            for server in sorted({server_of[g] for g in previous if 0 <= g < total}):
                if type_of_server[server] == type_index and server_free[server] == capacity[server]:
                    chosen.append(server)
                    room += capacity[server]
                    if room >= num_gpus:
                        break
        if room < num_gpus:
            for server in self._servers_of_type[type_index]:
                if server_free[server] == capacity[server] and server not in chosen:
                    chosen.append(server)
                    room += capacity[server]
                    if room >= num_gpus:
                        break
        if room < num_gpus:
            return None
        chosen.sort()
        parts: list[tuple[int, int]] = []
        left = num_gpus
        for server in chosen:
            amount = min(capacity[server], left)
            parts.append((server, amount))
            left -= amount
            if not left:
                break
        return tuple(parts)

    def commit(self) -> dict[int, tuple[int, ...]]:
        """This round's reservations as sorted GPU ids per job key.

        Jobs whose previous GPUs all lie within what they reserved (and are not
        taken by an earlier such job) keep exactly those; the others then get
        the lowest free ids of their reserved pools.

        With ``reference_order`` (and one GPU per server) ids are handed out as the
        reference hands them out instead (see :meth:`_commit_reference`).
        """
        if self._reference:
            return self._commit_reference()
        assigned = self._assigned
        assigned[:] = bytes(self._num_gpus)
        pool_of_gpu = self._pool_of_gpu
        total = self._num_gpus
        placed: dict[int, tuple[int, ...]] = {}
        pending: list[Reservation] = []
        for reservation in self._reservations:
            key, num_gpus, previous, pool, parts = reservation
            if previous is not None and len(previous) == num_gpus:
                if parts is None:
                    marked = 0
                    for gpu in previous:
                        if not 0 <= gpu < total or pool_of_gpu[gpu] != pool or assigned[gpu]:
                            break
                        assigned[gpu] = 1
                        marked += 1
                    if marked == num_gpus:
                        placed[key] = tuple(sorted(previous))
                        continue
                    for gpu in previous[:marked]:
                        assigned[gpu] = 0
                elif self._keep_spread(previous, parts):
                    placed[key] = tuple(sorted(previous))
                    continue
            pending.append(reservation)

        pool_gpus = self._pool_gpus
        cursor = [0] * len(pool_gpus)
        for key, num_gpus, _previous, pool, parts in pending:
            if parts is None:
                placed[key] = self._take(pool, num_gpus, cursor, pool_gpus[pool])
            else:
                gpus: list[int] = []
                for part_pool, amount in parts:
                    gpus.extend(self._take(part_pool, amount, cursor, pool_gpus[part_pool]))
                gpus.sort()
                placed[key] = tuple(gpus)
        return placed

    def place_counted(
        self,
        keys: list[int],
        types: list[int],
        sizes: list[int],
        previous: list[tuple[int, ...] | None],
    ) -> dict[int, tuple[int, ...]]:
        """A whole round on a placer that only counts GPUs (``counts_only``):
        ``begin_round()``, ``reserve()`` of each job in order and ``commit()``, with
        the same GPUs. ``RuntimeError`` if a job does not fit.

        When every job takes one GPU and held at most one, this is done on arrays:
        in order, a job keeps its last GPU if it is of the job's type and no earlier
        job kept it; the others, in order, take their type's lowest GPUs left. That is
        ``commit()`` and, with one pool per type and one GPU per job, the reference's
        order as well. The round's reservations are not kept (``commit()`` is not to be
        called again). Anything else goes through ``reserve()`` and ``commit()``.
        """
        if not self.counts_only:
            raise ValueError("place_counted needs a placer with one GPU per server")
        n = len(keys)
        caps = self._counts
        small = n <= _LOOP_PLACE_MAX
        if small:
            counts: list[int] | np.ndarray = [0] * len(caps)
            for k in types:
                counts[k] += 1
            fits = all(c <= cap for c, cap in zip(counts, caps, strict=True))
        else:
            kind = np.asarray(types, dtype=np.int64)
            counts = np.bincount(kind, minlength=len(caps))
            fits = bool((counts <= caps).all())
        # Each job's one last GPU, -1 for none and -2 for more than one.
        held = [-1 if p is None else p[0] if len(p) == 1 else -2 for p in previous]
        simple = max(sizes, default=1) == 1 and -2 not in held and fits and len(set(keys)) == n
        if not simple:
            self.begin_round()
            for key, type_index, size, prev in zip(keys, types, sizes, previous, strict=True):
                if not self.reserve(key, type_index, size, prev):
                    raise RuntimeError(f"placement refused job {key} a reservation that fits")
            return self.commit()
        if small:
            return self._place_counted_loop(keys, types, held, counts)
        last = np.array(held, dtype=np.int64)
        total = self._num_gpus
        pools = np.asarray(self._type_pool, dtype=np.int64)[kind]
        valid = np.flatnonzero((last >= 0) & (last < total))
        valid = valid[self._pool_of_gpu_array[last[valid]] == pools[valid]]
        # The first of the jobs that held one GPU keeps it (np.unique's first index).
        _, first = np.unique(last[valid], return_index=True)
        kept = np.sort(valid[first])
        assigned = np.zeros(total, dtype=bool)
        assigned[last[kept]] = True
        gpus = np.empty(n, dtype=np.int64)
        gpus[kept] = last[kept]
        waiting = np.ones(n, dtype=bool)
        waiting[kept] = False
        for type_index, pool_gpus in enumerate(self._type_gpus_array):
            jobs = np.flatnonzero(waiting & (kind == type_index))
            if jobs.size:
                free = pool_gpus[~assigned[pool_gpus]]
                gpus[jobs] = free[: jobs.size]
        self._type_free[:] = (np.asarray(caps) - counts).tolist()
        self._reservations.clear()
        self._keys.clear()
        return dict(zip(keys, zip(gpus.tolist(), strict=True), strict=True))

    def _place_counted_loop(
        self, keys: list[int], types: list[int], held: list[int], counts: list[int] | np.ndarray
    ) -> dict[int, tuple[int, ...]]:
        """:meth:`place_counted`'s array rule as a loop, quicker on a small round: in
        order, a job keeps its one last GPU if it is of its type and free; then, in
        order, each other job takes its type's lowest free GPU."""
        total = self._num_gpus
        pool_of_gpu = self._pool_of_gpu
        type_pool = self._type_pool
        kept: set[int] = set()
        gpus: list[int] = [-1] * len(keys)
        waiting: list[int] = []
        for j, (g, k) in enumerate(zip(held, types, strict=True)):
            if 0 <= g < total and pool_of_gpu[g] == type_pool[k] and g not in kept:
                kept.add(g)
                gpus[j] = g
            else:
                waiting.append(j)
        if waiting:
            type_gpus = self.topology.gpus_of_type
            cursor = [0] * len(type_gpus)
            for j in waiting:
                k = types[j]
                pool, c = type_gpus[k], cursor[k]
                while pool[c] in kept:
                    c += 1
                gpus[j] = pool[c]
                cursor[k] = c + 1
        self._type_free[:] = [cap - c for cap, c in zip(self._counts, counts, strict=True)]
        self._reservations.clear()
        self._keys.clear()
        return dict(zip(keys, zip(gpus, strict=True), strict=True))

    def _commit_reference(self) -> dict[int, tuple[int, ...]]:
        """The reference's assignment: per type, the jobs in the order they were
        reserved, larger GPU counts first (a stable sort); for each GPU count, first
        every job that can keep all of its previous GPUs of this type keeps them, then
        the others take the lowest ids not yet taken."""
        assigned = self._assigned
        assigned[:] = bytes(self._num_gpus)
        pool_of_gpu = self._pool_of_gpu
        total = self._num_gpus
        pool_gpus = self._pool_gpus
        cursor = [0] * len(pool_gpus)
        placed: dict[int, tuple[int, ...]] = {}
        by_pool: dict[int, list[Reservation]] = {}
        for reservation in self._reservations:
            by_pool.setdefault(reservation[3], []).append(reservation)
        take = self._take
        for pool, reservations in by_pool.items():
            # larger counts first, in reservation order within a count (a reverse sort
            # is stable too)
            reservations.sort(key=itemgetter(1), reverse=True)
            count = len(reservations)
            start = 0
            while start < count:
                size = reservations[start][1]
                end = start + 1
                while end < count and reservations[end][1] == size:
                    end += 1
                waiting: list[int] = []
                for key, _num, previous, _pool, _parts in reservations[start:end]:
                    if previous:
                        for g in previous:
                            if not 0 <= g < total or pool_of_gpu[g] != pool or assigned[g]:
                                break
                        else:
                            for g in previous:
                                assigned[g] = 1
                            placed[key] = tuple(sorted(previous))
                            continue
                    waiting.append(key)
                for key in waiting:
                    placed[key] = take(pool, size, cursor, pool_gpus[pool])
                start = end
        return placed

    def _take(
        self, pool: int, amount: int, cursor: list[int], gpus: tuple[int, ...]
    ) -> tuple[int, ...]:
        """The lowest ``amount`` unassigned GPUs of a pool, marked assigned."""
        assigned = self._assigned
        index = cursor[pool]
        taken: list[int] = []
        end = len(gpus)
        while amount:
            if index >= end:
                raise RuntimeError(
                    f"placement: pool {pool} ran out of GPUs; reservations exceed it"
                )
            gpu = gpus[index]
            index += 1
            if not assigned[gpu]:
                assigned[gpu] = 1
                taken.append(gpu)
                amount -= 1
        cursor[pool] = index
        return tuple(taken)

    def _keep_spread(self, previous: tuple[int, ...], parts: tuple[tuple[int, int], ...]) -> bool:
        """Mark and keep ``previous`` for a multi-server job if it matches its parts exactly."""
        assigned = self._assigned
        total = self._num_gpus
        pool_of_gpu = self._pool_of_gpu
        wanted = dict(parts)
        seen: dict[int, int] = {}
        for gpu in previous:
            if not 0 <= gpu < total or assigned[gpu]:
                return False
            pool = pool_of_gpu[gpu]
            seen[pool] = seen.get(pool, 0) + 1
        if seen != wanted or len(set(previous)) != len(previous):
            return False
        for gpu in previous:
            assigned[gpu] = 1
        return True
