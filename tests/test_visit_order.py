"""The order component visits start in (issue 9, 30 ms mode): operators' long chains first,
results and the failure reported still in stream order."""

from __future__ import annotations

import threading

import pytest

from okdrelease.images.resolve import resolve_all
from okdrelease.openshift.imagestream import TagReference
from okdrelease.payload.components import visit_order


def test_tags_named_like_operators_alternate_with_the_others_in_stream_order() -> None:
    names = ["cli", "console-operator", "installer", "machine-config-operator", "tests", "insights-operator"]
    names += ["network-operator", "etcd-operator"]
    tags = [TagReference(name=name) for name in names]
    assert [names[i] for i in visit_order(tags)] == [
        "console-operator",
        "cli",
        "machine-config-operator",
        "installer",
        "insights-operator",
        "tests",
        "network-operator",
        "etcd-operator",
    ]
    assert visit_order(tags[:3]) == [1, 0, 2]  # more others than operators: the rest in stream order
    assert visit_order([]) == []


def test_work_starts_in_the_order_given_and_results_keep_items_order() -> None:
    started: list[str] = []
    items = ["a", "b", "c", "d"]

    def work(item: str) -> str:
        started.append(item)
        return item.upper()

    assert resolve_all(items, work, workers=1, order=[3, 1, 0, 2]) == ["A", "B", "C", "D"]
    assert started == ["d", "b", "a", "c"]


def test_the_failure_reported_is_the_first_in_items_order_whatever_the_start_order() -> None:
    all_running = threading.Barrier(3, timeout=30)

    def work(item: str) -> str:
        all_running.wait()  # every item runs, so none is cancelled by the first failure
        if item != "b":
            raise ValueError(item)
        return item

    with pytest.raises(ValueError, match="^a$"):
        resolve_all(["a", "b", "c"], work, workers=3, order=[2, 1, 0])
