"""Results about an object, remembered while the object lives and is unchanged.

The calibration and the fusion of one command ask the same questions about the same sensor's
samples (its times on the session clock, whether every sample is usable); :class:`ObjectMemo`
answers the second asker from the first answer. An entry is keyed by the object's identity,
held through a weak reference (it goes with the object) and checked against a fingerprint the
caller computes (what would change if the object's data changed).
"""

from __future__ import annotations

import weakref

#: what :meth:`ObjectMemo.get` returns when it has nothing for an object
MISSING = object()


class ObjectMemo:
    """Per-object results.

    Parameters
    ----------
    max_items : int
        Objects remembered at most (later ones are not remembered).
    """

    def __init__(self, max_items: int = 32):
        self.max_items = max_items
        self._items: dict = {}  # id(obj) → (weak reference, fingerprint, value)

    def get(self, obj, fingerprint):
        """The value remembered for ``obj`` with this ``fingerprint``, else :data:`MISSING`."""
        hit = self._items.get(id(obj))
        if hit is not None and hit[0]() is obj and hit[1] == fingerprint:
            return hit[2]
        return MISSING

    def put(self, obj, fingerprint, value) -> None:
        """Remember ``value`` for ``obj`` (nothing when ``obj`` cannot be weakly referenced)."""
        for k in [k for k, v in list(self._items.items()) if v[0]() is None]:
            self._items.pop(k, None)  # entries of objects gone
        if len(self._items) >= self.max_items and id(obj) not in self._items:
            return
        try:
            self._items[id(obj)] = (weakref.ref(obj), fingerprint, value)
        except TypeError:
            pass
