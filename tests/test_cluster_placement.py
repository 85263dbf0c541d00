"""Tests for cluster.placement: the server layout and per-round placement with contiguity."""

from __future__ import annotations

from unittest.mock import patch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cluster import ClusterSpec, Placer, Topology, parse_cluster, placement


def placer(counts: tuple[int, ...], sizes: tuple[int, ...]) -> Placer:
    names = tuple(f"t{i}" for i in range(len(counts)))
    return Placer(Topology(ClusterSpec(names, counts, sizes)))


def test_topology_numbering() -> None:
    """GPUs are numbered type by type and cut into servers; a type's last server may be short."""
    topo = Topology(ClusterSpec(("v100", "k80"), (6, 3), (4, 1)))
    assert topo.gpu_type.tolist() == [0, 0, 0, 0, 0, 0, 1, 1, 1]
    assert topo.gpus_of_server == ((0, 1, 2, 3), (4, 5), (6,), (7,), (8,))
    assert topo.servers_of_type == ((0, 1), (2, 3, 4))
    assert topo.server_of.tolist() == [0, 0, 0, 0, 1, 1, 2, 3, 4]
    assert topo.counts == (6, 3)
    assert topo.gpus_per_server == (4, 1)
    assert topo.type_index("K80") == 1


def test_topology_zero_count_type() -> None:
    """A type with no GPUs has no servers and takes no ids."""
    topo = Topology(parse_cluster("0:2:1"))
    assert topo.servers_of_type == ((), (0, 1), (2,))
    assert topo.gpu_type.tolist() == [1, 1, 2]


def test_single_gpu_servers_never_over_assign() -> None:
    """With one GPU per server a job fits iff enough GPUs of its type are free."""
    p = Placer(Topology(parse_cluster("4:2:0")))
    p.begin_round()
    assert p.reserve(1, 0, 2, None)
    assert p.free_gpus(0) == 2
    assert not p.reserve(2, 0, 4, None)
    assert p.free_gpus(0) == 2
    assert p.reserve(3, 0, 2, None)
    assert not p.reserve(4, 0, 1, None)
    assert not p.reserve(5, 2, 1, None)
    placed = p.commit()
    assert placed == {1: (0, 1), 3: (2, 3)}


def test_begin_round_frees_everything() -> None:
    """begin_round forgets the last round's reservations."""
    p = placer((4,), (2,))
    p.begin_round()
    assert p.reserve(1, 0, 4, None)
    assert p.free_gpus(0) == 0
    p.begin_round()
    assert p.free_gpus(0) == 4
    assert p.commit() == {}


def test_multi_gpu_job_lands_on_one_server() -> None:
    """A job no larger than a server gets all its GPUs on one server, best fit first."""
    p = placer((12,), (4,))
    p.begin_round()
    assert p.reserve(1, 0, 1, None)  # server 0 now has 3 free
    assert p.reserve(2, 0, 3, None)  # best fit: server 0 (3 free), not an empty one
    assert p.reserve(3, 0, 2, None)  # server 1
    assert p.reserve(4, 0, 2, None)  # best fit: server 1 again (2 free)
    placed = p.commit()
    assert placed == {1: (0,), 2: (1, 2, 3), 3: (4, 5), 4: (6, 7)}


def test_job_larger_than_server_takes_whole_servers() -> None:
    """An 8-GPU job on 4-GPU servers takes two wholly free servers."""
    p = placer((12,), (4,))
    p.begin_round()
    assert p.reserve(1, 0, 1, None)  # server 0 partly used
    assert p.reserve(2, 0, 8, None)
    assert not p.reserve(3, 0, 4, None)  # only 3 GPUs left, on server 0
    placed = p.commit()
    assert placed[2] == (4, 5, 6, 7, 8, 9, 10, 11)


def test_large_job_remainder_stays_usable() -> None:
    """A 6-GPU job on 4-GPU servers leaves the rest of its second server to others."""
    p = placer((8,), (4,))
    p.begin_round()
    assert p.reserve(1, 0, 6, None)
    assert p.free_gpus(0) == 2
    assert p.reserve(2, 0, 2, None)
    assert p.commit() == {1: (0, 1, 2, 3, 4, 5), 2: (6, 7)}


def test_fragmentation_blocks_job() -> None:
    """Four free GPUs spread over two 4-GPU servers cannot host a 4-GPU job."""
    p = placer((8,), (4,))
    p.begin_round()
    assert p.reserve(1, 0, 2, None)
    assert p.reserve(2, 0, 2, (4, 5))  # previous on server 1: it goes there
    assert p.free_gpus(0) == 4
    assert not p.reserve(3, 0, 4, None)
    assert not p.reserve(4, 0, 3, None)
    assert p.free_gpus(0) == 4
    assert p.commit() == {1: (0, 1), 2: (4, 5)}


def test_previous_placement_kept_when_free() -> None:
    """A job gets back exactly its previous GPUs when they are still available."""
    p = placer((8, 4), (4, 1))
    p.begin_round()
    assert p.reserve(1, 0, 1, None)
    assert p.reserve(2, 0, 2, (6, 7))
    assert p.reserve(3, 1, 2, (9, 11))
    assert p.reserve(4, 1, 1, None)
    placed = p.commit()
    assert placed == {1: (0,), 2: (6, 7), 3: (9, 11), 4: (8,)}


def test_previous_placement_taken_by_earlier_keeper() -> None:
    """When two jobs claim the same previous GPU, the first keeps it and the second moves."""
    p = placer((4,), (1,))
    p.begin_round()
    assert p.reserve(1, 0, 1, (2,))
    assert p.reserve(2, 0, 1, (2,))
    assert p.commit() == {1: (2,), 2: (0,)}


def test_previous_of_another_type_ignored() -> None:
    """Previous GPUs of another type or outside the cluster do not count."""
    p = placer((2, 2), (2, 1))
    p.begin_round()
    assert p.reserve(1, 1, 1, (0,))
    assert p.reserve(2, 0, 2, (1, 99))
    assert p.commit() == {1: (2,), 2: (0, 1)}


def test_reserve_rejects_bad_calls() -> None:
    """num_gpus below 1 and a second reservation for the same job are errors."""
    p = placer((4,), (1,))
    p.begin_round()
    with pytest.raises(ValueError, match="num_gpus"):
        p.reserve(1, 0, 0, None)
    assert p.reserve(1, 0, 1, None)
    with pytest.raises(ValueError, match="already reserved"):
        p.reserve(1, 0, 1, None)


@st.composite
def topologies(draw: st.DrawFn) -> Topology:
    num_types = draw(st.integers(1, 3))
    counts = tuple(draw(st.integers(0, 20)) for _ in range(num_types))
    if sum(counts) == 0:
        counts = (1, *counts[1:])
    sizes = tuple(draw(st.sampled_from([1, 1, 2, 3, 4, 8])) for _ in range(num_types))
    return Topology(ClusterSpec(tuple(f"t{i}" for i in range(num_types)), counts, sizes))


def check_round(
    topo: Topology, requests: list[tuple[int, int, int]], placed: dict[int, tuple[int, ...]]
) -> None:
    """Every committed tuple has its size, its type, one server when it fits one, no overlap."""
    sizes = {key: (t, n) for key, t, n in requests}
    assert set(placed) == set(sizes)
    used: set[int] = set()
    for key, gpus in placed.items():
        t, n = sizes[key]
        assert len(gpus) == n
        assert list(gpus) == sorted(gpus)
        assert all(topo.gpu_type[g] == t for g in gpus)
        servers = {int(topo.server_of[g]) for g in gpus}
        if n <= topo.gpus_per_server[t]:
            assert len(servers) == 1
        else:
            # whole servers, except at most one that gives the remainder
            partial = [s for s in servers if not set(topo.gpus_of_server[s]) <= set(gpus)]
            assert len(partial) <= 1
        assert used.isdisjoint(gpus)
        used.update(gpus)


@settings(max_examples=150, deadline=None)
@given(
    topologies(),
    st.lists(
        st.lists(st.tuples(st.integers(0, 15), st.integers(0, 2), st.integers(1, 10)), max_size=25),
        min_size=1,
        max_size=4,
    ),
)
def test_random_rounds_keep_invariants(
    topo: Topology, rounds: list[list[tuple[int, int, int]]]
) -> None:
    """Random reservations over several rounds always commit valid, disjoint placements."""
    p = Placer(topo)
    last: dict[int, tuple[int, ...]] = {}
    for round_requests in rounds:
        p.begin_round()
        accepted: list[tuple[int, int, int]] = []
        seen: set[int] = set()
        for key, raw_type, n in round_requests:
            t = raw_type % topo.num_types
            if key in seen:
                continue
            seen.add(key)
            before = [p.free_gpus(i) for i in range(topo.num_types)]
            ok = p.reserve(key, t, n, last.get(key))
            after = [p.free_gpus(i) for i in range(topo.num_types)]
            if ok:
                accepted.append((key, t, n))
                before[t] -= n
            else:
                assert n > before[t] or topo.gpus_per_server[t] > 1
            assert after == before
        placed = p.commit()
        check_round(topo, accepted, placed)
        last = placed


@settings(max_examples=100, deadline=None)
@given(
    topologies(),
    st.lists(st.tuples(st.integers(0, 2), st.integers(1, 10)), max_size=25),
)
def test_replayed_round_is_stable(topo: Topology, requests: list[tuple[int, int]]) -> None:
    """Replaying a round's reservations with their previous GPUs gives the same placement."""
    p = Placer(topo)
    p.begin_round()
    accepted = [
        (key, t % topo.num_types, n)
        for key, (t, n) in enumerate(requests)
        if p.reserve(key, t % topo.num_types, n, None)
    ]
    first = p.commit()
    p.begin_round()
    for key, t, n in accepted:
        assert p.reserve(key, t, n, first[key])
    assert p.commit() == first


@settings(max_examples=150, deadline=None)
@given(
    counts=st.lists(st.integers(0, 6), min_size=1, max_size=3).filter(any),
    reference=st.booleans(),
    loop=st.booleans(),
    data=st.data(),
)
def test_place_counted_is_reserve_then_commit(
    counts: list[int], reference: bool, loop: bool, data: st.DataObject
) -> None:
    """A whole round placed at once on one-GPU servers gives exactly what reserving each
    job in order and committing gives: kept GPUs, a GPU two jobs held (the first keeps
    it), a GPU of another type or out of range, multi-GPU jobs (the general path); both
    by the small rounds' loop and on arrays."""
    names = tuple(f"t{i}" for i in range(len(counts)))
    topo = Topology(ClusterSpec(names, tuple(counts), (1,) * len(counts)))
    total = sum(counts)
    left = list(counts)
    keys: list[int] = []
    types: list[int] = []
    sizes: list[int] = []
    previous: list[tuple[int, ...] | None] = []
    gpu = st.integers(-1, total + 1)
    for key in data.draw(st.lists(st.integers(0, 40), unique=True, max_size=12)):
        k = data.draw(st.integers(0, len(counts) - 1))
        size = data.draw(st.sampled_from((1, 1, 1, 2)))
        if left[k] < size:
            continue
        left[k] -= size
        keys.append(key)
        types.append(k)
        sizes.append(size)
        # A job's last GPUs are as many as it takes (a placement gave them).
        prev = data.draw(
            st.one_of(
                st.none(), st.lists(gpu, min_size=size, max_size=size, unique=True).map(tuple)
            )
        )
        previous.append(prev)
    one = Placer(topo, reference_order=reference)
    one.begin_round()
    for key, k, size, prev in zip(keys, types, sizes, previous, strict=True):
        assert one.reserve(key, k, size, prev)
    expected = one.commit()
    other = Placer(topo, reference_order=reference)
    assert other.counts_only
    with patch.object(placement, "_LOOP_PLACE_MAX", 64 if loop else 0):
        assert other.place_counted(keys, types, sizes, previous) == expected
    assert [other.free_gpus(k) for k in range(len(counts))] == left


def test_place_counted_refuses_what_does_not_fit() -> None:
    """More jobs of a type than its GPUs: the job that does not fit is named; a placer
    with multi-GPU servers is not one that only counts."""
    p = Placer(Topology(parse_cluster("2:1:0")))
    with pytest.raises(RuntimeError, match="job 7"):
        p.place_counted([5, 6, 7], [1, 0, 1], [1, 1, 1], [None, None, None])
    multi = placer((4,), (2,))
    assert not multi.counts_only
    with pytest.raises(ValueError, match="one GPU per server"):
        multi.place_counted([1], [0], [1], [None])
