"""The pairs' book: deficits kept across solves as a dict keyed by pair would keep them."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.pairs import PairBook


class DictBook:
    """The oracle: the same bookkeeping with a dict of pair -> deficit row, one pair at
    a time (the book's rules written the plain way)."""

    def __init__(self, m: int) -> None:
        self.m = m
        self.ids = np.zeros((0, 2), dtype=np.int64)
        self.allocation = np.zeros((0, m))
        self.job_time = np.zeros((0, m))
        self.deficit = np.zeros((0, m))
        self.kept: dict[tuple[int, int], np.ndarray] = {}

    def reset(self, since: float, half: float) -> None:
        if not self.ids.shape[0]:
            return
        self.deficit += self.allocation * since - (self.job_time - half)
        for (a, b), row in zip(self.ids.tolist(), self.deficit, strict=True):
            self.kept[(a, b)] = row.copy()
        self.job_time[:] = half

    def replace(self, ids: np.ndarray, allocation: np.ndarray, half: float) -> None:
        self.ids = np.sort(np.asarray(ids, dtype=np.int64).reshape(-1, 2), axis=1)
        self.allocation = np.asarray(allocation, dtype=float).reshape(-1, self.m)
        self.job_time = np.full_like(self.allocation, half)
        rows = [self.kept.get((a, b), np.zeros(self.m)) for a, b in self.ids.tolist()]
        self.deficit = np.array(rows).reshape(-1, self.m)
        live = {(a, b) for a, b in self.ids.tolist()}
        self.kept = {k: v for k, v in self.kept.items() if k in live}

    def drop_job(self, job_id: int) -> None:
        keep = ~(self.ids == job_id).any(axis=1)
        self.ids, self.allocation = self.ids[keep], self.allocation[keep]
        self.job_time, self.deficit = self.job_time[keep], self.deficit[keep]


@settings(max_examples=300, deadline=None)
@given(
    m=st.integers(1, 3),
    huge=st.booleans(),
    steps=st.lists(
        st.tuples(
            st.sampled_from(["replace", "reset", "drop", "serve"]),
            st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), max_size=10),
            st.floats(0.0, 5000.0),
        ),
        max_size=14,
    ),
)
def test_the_book_keeps_deficits_as_a_dict_would(
    m: int, huge: bool, steps: list[tuple[str, list[tuple[int, int]], float]]
) -> None:
    """Any sequence of solves (pairs repeated, in either order, absent), resets, service
    and departures gives the deficits, allocations and times of the dict bookkeeping,
    bit for bit, and each pair's first row; with ids past 31 bits too (the other way of
    matching pairs)."""
    rng = np.random.default_rng(len(steps))
    book, oracle = PairBook(m), DictBook(m)
    offset = 2**40 if huge else 0
    for op, pairs, value in steps:
        if op == "replace":
            ids = np.array(pairs, dtype=np.int64).reshape(-1, 2) + offset
            alloc = rng.uniform(0.0, 0.2, (ids.shape[0], m))
            book.replace(ids, alloc, 180.0)
            oracle.replace(ids, alloc, 180.0)
        elif op == "reset":
            book.reset(value, 180.0)
            oracle.reset(value, 180.0)
        elif op == "drop" and pairs:
            book.drop_job(pairs[0][0] + offset)
            oracle.drop_job(pairs[0][0] + offset)
        elif op == "serve" and len(book):
            extra = rng.uniform(0.0, 360.0, book.job_time.shape)
            book.job_time += extra
            oracle.job_time += extra
        assert np.array_equal(book.ids, oracle.ids)
        assert np.array_equal(book.allocation, oracle.allocation)
        assert np.array_equal(book.job_time, oracle.job_time)
        assert np.array_equal(book.deficit, oracle.deficit)
        assert book.deficit.dtype == oracle.deficit.dtype and book.deficit.shape == (len(book), m)
        listed = oracle.ids.tolist()
        for a, b in itertools.product(range(offset, offset + 4), repeat=2):
            first = listed.index(sorted((a, b))) if sorted((a, b)) in listed else -1
            assert book.row_of(a, b) == first


def test_a_pairs_row_is_its_first_in_either_order_and_follows_changes() -> None:
    """row_of: the first row of a pair (its jobs in either order), -1 for none; a new
    solve or a departure changes the answer and the version."""
    book = PairBook(2)
    book.replace(np.array([[3, 1], [2, 5], [1, 3]]), np.full((3, 2), 0.1), 180.0)
    assert book.ids.tolist() == [[1, 3], [2, 5], [1, 3]]
    assert (book.row_of(1, 3), book.row_of(3, 1), book.row_of(5, 2)) == (0, 0, 1)
    assert book.row_of(1, 2) == -1
    version = book.version
    book.drop_job(1)
    assert book.version > version and book.row_of(1, 3) == -1 and book.row_of(2, 5) == 0
    book.replace(np.array([[7, 8]]), np.full((1, 2), 0.1), 180.0)
    assert book.row_of(2, 5) == -1 and book.row_of(8, 7) == 0
