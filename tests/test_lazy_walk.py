"""The pair walk's lazy sort: chunk by chunk, the order of one sort of everything."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.mechanism import sorted_lazily

# Few distinct values, so that ties (within a chunk and across its boundary) are common;
# the infinities, both zeros and NaN are sort keys too.
VALUES = st.sampled_from([0.0, -0.0, 1.0, 2.0, 2.5, -1.0, np.inf, -np.inf, np.nan])


@st.composite
def walks(draw: st.DrawFn) -> tuple[np.ndarray, tuple[np.ndarray, ...], int]:
    size = draw(st.integers(0, 200))
    nkeys = draw(st.integers(1, 4))
    keys = tuple(
        np.array(draw(st.lists(VALUES, min_size=size, max_size=size))) for _ in range(nkeys)
    )
    labels = np.array(draw(st.permutations(range(size))), dtype=np.int64)
    return labels, keys, draw(st.integers(1, 12))


def _never(rest: np.ndarray) -> np.ndarray:
    return np.zeros(rest.size, dtype=bool)


@settings(max_examples=400, deadline=None)
@given(walks())
def test_nothing_passed_over_gives_the_full_sort(
    walk: tuple[np.ndarray, tuple[np.ndarray, ...], int],
) -> None:
    labels, keys, chunk = walk
    expected = labels[np.lexsort(keys)].tolist()
    assert list(sorted_lazily(labels, keys, _never, chunk)) == expected


@settings(max_examples=400, deadline=None)
@given(walks(), st.integers(0, 2**32 - 1), st.integers(1, 30))
def test_a_consumer_takes_what_it_takes_from_the_full_sort(
    walk: tuple[np.ndarray, tuple[np.ndarray, ...], int], seed: int, capacity: int
) -> None:
    """As the round's walk does: each entry holds one or two jobs; the consumer passes
    over an entry with a job taken already, sometimes refuses one (a placement that
    fails) and stops when full. Left out lazily or not, it takes the same entries."""
    labels, keys, chunk = walk
    rng = np.random.default_rng(seed)
    jobs = max(1, labels.size // 3)
    members = rng.integers(0, jobs, size=(labels.size, 2))
    single = rng.random(labels.size) < 0.3
    members[single, 1] = members[single, 0]
    refuse = rng.random(labels.size) < 0.2
    by_label = {int(label): i for i, label in enumerate(labels.tolist())}

    def consume(order: Iterable[int], taken: list[bool]) -> list[int]:
        out: list[int] = []
        for label in order:
            i = by_label[label]
            a, b = members[i]
            if taken[a] or taken[b] or refuse[i]:
                continue
            taken[a] = taken[b] = True
            out.append(label)
            if len(out) == capacity:
                break
        return out

    full = consume(labels[np.lexsort(keys)].tolist(), [False] * jobs)
    taken = [False] * jobs

    def passed_over(rest: np.ndarray) -> np.ndarray:  # positions, as the walk's are
        t = np.array(taken, dtype=bool)
        m = members[rest]
        out: np.ndarray = t[m[:, 0]] | t[m[:, 1]]
        return out

    assert consume(sorted_lazily(labels, keys, passed_over, chunk), taken) == full
