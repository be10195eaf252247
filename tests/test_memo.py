"""imu.memo: per-object results kept while the object lives and its fingerprint holds."""

import gc

from imu.memo import MISSING, ObjectMemo


class Thing:
    pass


def test_a_result_is_given_back_only_for_the_same_object_and_fingerprint():
    memo, a, b = ObjectMemo(), Thing(), Thing()
    memo.put(a, (1, 2), "times of a")
    assert memo.get(a, (1, 2)) == "times of a"
    assert memo.get(a, (1, 3)) is MISSING  # its data changed
    assert memo.get(b, (1, 2)) is MISSING


def test_a_result_goes_with_its_object():
    memo, a = ObjectMemo(), Thing()
    memo.put(a, 0, "x")
    del a
    gc.collect()
    memo.put(Thing(), 0, "y")  # (prunes the dead entry)
    assert len(memo._items) <= 1


def test_objects_without_weak_references_are_not_remembered_and_the_size_is_bounded():
    memo = ObjectMemo(max_items=2)
    memo.put(3.5, 0, "float")  # floats cannot be weakly referenced
    assert memo.get(3.5, 0) is MISSING
    keep = [Thing() for _ in range(4)]
    for i, t in enumerate(keep):
        memo.put(t, 0, i)
    assert [memo.get(t, 0) for t in keep] == [0, 1, MISSING, MISSING]
