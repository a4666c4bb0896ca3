"""ddmin finds a 1-minimal failing part within its budget, over lists and bytes alike."""

from __future__ import annotations

import pytest

from gearcheck.minimize import Budget, OutOfBudget, ddmin


def test_a_list_shrinks_to_the_elements_the_failure_needs() -> None:
    tried: list[list[int]] = []

    def fails(items: list[int]) -> bool:
        tried.append(items)
        return 3 in items and 7 in items

    assert ddmin(list(range(10)), fails) == [3, 7]
    assert all(len(t) < 10 for t in tried)


def test_bytes_shrink_too_and_an_empty_remainder_is_tried_on_request() -> None:
    assert ddmin(b"xxxxAxxxx", lambda data: b"A" in data) == b"A"
    assert ddmin([1, 2], lambda items: True, keep_one=False) == []
    assert len(ddmin([1, 2], lambda items: True)) == 1


def test_settle_continues_from_what_the_test_learned() -> None:
    # a replay that fails at an earlier element cuts the rest off by itself
    assert ddmin(list(range(8)), lambda items: 2 in items, settle=lambda items: [2]) == [2]


def test_the_budget_stops_the_search() -> None:
    budget = Budget(max_trials=3, seconds=60)

    def fails(items: list[int]) -> bool:
        budget.spend()
        return 5 in items

    with pytest.raises(OutOfBudget):
        ddmin(list(range(64)), fails)
    assert budget.trials == 3
