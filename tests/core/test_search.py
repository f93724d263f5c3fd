"""Search spaces: seeded, lazy, deterministic grids and random draws."""

from __future__ import annotations

import itertools
import time
import tracemalloc

from hypothesis import given, settings
from hypothesis import strategies as st

from tuningsweep.core.search.spaces import (
    Permutation,
    grid_configs,
    grid_point,
    grid_size,
    random_configs,
)
from tuningsweep.core.spec.parse import Parameter


@given(size=st.integers(1, 3000), seed=st.integers(0, 2**40))
@settings(max_examples=60)
def test_permutation_is_a_bijection(size: int, seed: int) -> None:
    perm = Permutation(size, seed)
    assert sorted(perm(i) for i in range(size)) == list(range(size))


def test_permutation_depends_on_seed_and_shuffles() -> None:
    a = [Permutation(1000, 1)(i) for i in range(20)]
    b = [Permutation(1000, 2)(i) for i in range(20)]
    assert a != b
    assert a != list(range(20))


@given(
    sizes=st.lists(st.integers(1, 5), min_size=1, max_size=4), seed=st.integers(0, 1000),
    limit=st.integers(1, 700),
)
@settings(max_examples=60)
def test_grid_is_the_cartesian_product_in_shuffled_order(
    sizes: list[int], seed: int, limit: int,
) -> None:
    params = [Parameter(f"p{i}", values=tuple(range(n))) for i, n in enumerate(sizes)]
    whole = list(grid_configs(params, seed, None))
    assert len(whole) == grid_size(params)
    product = {tuple(c) for c in itertools.product(*(range(n) for n in sizes))}
    assert {tuple(c.values()) for c in whole} == product
    # maxConfigs takes a prefix of the same order, so raising it extends a sweep.
    assert list(grid_configs(params, seed, limit)) == whole[:limit]


def test_grid_point_mixed_radix() -> None:
    params = [Parameter("a", values=(1, 2)), Parameter("b", values=("x", "y", "z"))]
    assert [grid_point(params, i) for i in (0, 1, 3, 5)] == [
        {"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 2, "b": "x"}, {"a": 2, "b": "z"}]


def test_huge_grid_is_never_materialised() -> None:
    params = [Parameter(f"p{i}", values=tuple(range(10))) for i in range(10)]
    tracemalloc.start()
    started = time.perf_counter()
    configs = list(grid_configs(params, 7, 100))
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len({tuple(c.values()) for c in configs}) == 100
    # Generous bounds that a materialised 10^10 grid could never meet; timing figures
    # proper are in `make bench`.
    assert elapsed < 1.0 and peak < 5_000_000


def test_random_draws_are_seeded_in_range_and_distinct() -> None:
    params = [
        Parameter("lr", min=1e-4, max=1e-1, scale="log"),
        Parameter("dropout", min=0.0, max=0.5),
        Parameter("units", min=8, max=64, type="int"),
        Parameter("act", values=("relu", "tanh")),
    ]
    first = list(random_configs(params, 3, 50))
    assert first == list(random_configs(params, 3, 50))
    assert first != list(random_configs(params, 4, 50))
    assert first[:10] == list(random_configs(params, 3, 10))
    for c in first:
        assert 1e-4 <= c["lr"] <= 1e-1 and 0 <= c["dropout"] <= 0.5
        assert isinstance(c["units"], int) and 8 <= c["units"] <= 64
        assert c["act"] in ("relu", "tanh")
    assert len({tuple(c.values()) for c in first}) == 50


def test_log_scale_spreads_over_decades() -> None:
    params = [Parameter("lr", min=1e-5, max=1e-1, scale="log")]
    values = [c["lr"] for c in random_configs(params, 0, 400)]
    below = sum(1 for v in values if isinstance(v, float) and v < 1e-3)
    # Half the decades lie below 1e-3; uniform sampling would put ~1% there.
    assert 140 < below < 260


def test_small_discrete_space_yields_each_point_once() -> None:
    params = [Parameter("a", values=(1, 2)), Parameter("b", values=(1, 2))]
    got = list(random_configs(params, 0, 10))
    assert len(got) == 4
