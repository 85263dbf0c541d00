"""The batch forms of ``dict.get`` and ``in``: the same answers, key by key."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from scheduler.keyed import lookup, member

keys = st.lists(st.integers(-(2**62), 2**62) | st.integers(-5, 5), max_size=40)


@given(keys, keys)
def test_member_is_isin(wanted: list[int], known: list[int]) -> None:
    a = np.array(wanted, dtype=np.int64)
    b = np.array(known, dtype=np.int64)
    got = member(a, np.sort(b))
    assert got.dtype == bool and got.shape == a.shape
    assert got.tolist() == np.isin(a, b).tolist()


@given(keys, keys)
def test_lookup_is_dict_get_of_the_first_value(wanted: list[int], known: list[int]) -> None:
    first: dict[int, int] = {}
    for value, key in enumerate(known):
        first.setdefault(key, value)
    got = lookup(
        np.array(wanted, dtype=np.int64), np.array(known, dtype=np.int64), np.arange(len(known))
    )
    assert got.tolist() == [first.get(k, -1) for k in wanted]
