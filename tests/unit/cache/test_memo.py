"""cache.memo.remember: a memo bounded in entries, emptied when full."""

from __future__ import annotations

from cache.memo import remember


def test_a_value_is_remembered_and_returned() -> None:
    memo: dict[str, int] = {}
    assert remember(memo, "a", 1, limit=3) == 1
    assert remember(memo, "b", 2, limit=3) == 2
    assert memo == {"a": 1, "b": 2}


def test_a_memo_holds_at_most_its_limit_emptied_before_the_entry_past_it() -> None:
    memo: dict[int, str] = {}
    sizes = []
    for i in range(7):
        remember(memo, i, str(i), limit=3)
        sizes.append(len(memo))
    assert sizes == [1, 2, 3, 1, 2, 3, 1]
    assert memo == {6: "6"}  # the newest entry is always kept


def test_a_key_remembered_again_takes_the_new_value() -> None:
    memo = {"a": 1}
    assert remember(memo, "a", 2, limit=5) == 2
    assert memo == {"a": 2}
