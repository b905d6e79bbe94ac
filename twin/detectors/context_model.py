"""A variable-order context model over a stream of small symbols: how surprising is the next symbol?

WHY: the idea NAB's strongest streaming detectors share (HTM, CAD OSE) is to learn which coarse patterns follow
which and to raise an anomaly when the input stops being predictable. This is the plainest form of it: like a
PPM text compressor, remember for every recent run of symbols (orders 0..`max_order`) how often each symbol came
next. The surprise of a symbol is the fraction of the known contexts that never saw it follow, blended with the
fraction of contexts that are themselves new (the CAD OSE blend). Being a fraction of contexts, it means the
same on every series: nothing per series to calibrate or fit.

Scoring and learning happen in one pass over the orders (one dict lookup per order), which is what keeps the
detector above 100k readings/s per core in pure Python.
"""

from __future__ import annotations

__all__ = ["ContextModel"]

# Bits per symbol in the packed history: symbols 0..15, so a context of order k is one small int.
SYMBOL_BITS = 4
SYMBOLS = 1 << SYMBOL_BITS
# Key under which a context's successor table keeps its largest count: the gate below needs "is this symbol the
# context's favourite?" per reading, and max() over the table each time cost more than the rest of the update.
_TOP = -1


class ContextModel:
    """Successor counts for contexts of orders 0..`max_order`, at most `capacity` contexts.

    `step(sym)` returns the surprise of `sym` in [0, 1] (0 when the longest known context's favourite successor
    came, see `gate`) and then learns it.
    """

    __slots__ = ("_order", "_capacity", "_gate", "_table", "_hist", "_n", "_pairs", "_full")

    def __init__(self, max_order: int = 6, capacity: int = 20_000, gate: bool = True) -> None:
        if not 1 <= max_order <= 12 or capacity < 16:
            raise ValueError("1 <= max_order <= 12 and capacity >= 16 are required")
        self._order = max_order
        self._capacity = capacity
        self._gate = gate
        self._table: dict[int, dict[int, int]] = {}
        self._hist = 0
        self._n = 0
        # Per order: a leading 1 bit above the order's symbols (keeps contexts of different orders apart in one
        # table) and the mask of its symbols in the packed history.
        self._pairs = [(1 << (SYMBOL_BITS * k), (1 << (SYMBOL_BITS * k)) - 1) for k in range(max_order + 1)]
        self._full = (1 << (SYMBOL_BITS * max_order)) - 1

    def reset(self) -> None:
        """Forget everything (the symbols changed meaning)."""
        self._table = {}
        self._hist = 0
        self._n = 0

    def learn(self, sym: int) -> None:
        """Learn `sym` without scoring it (re-learning history)."""
        self.step(sym)

    def step(self, sym: int) -> float:
        """Surprise of `sym` given the recent symbols, then learn it. `sym` must be in 0..15."""
        table = self._table
        h = self._hist
        n = self._n
        pairs = self._pairs if n >= self._order else self._pairs[:n + 1]
        selected = predicted = novel = 0
        favourite = False
        for mark, mask in pairs:
            key = mark | (h & mask)
            succ = table.get(key)
            if succ is None:
                table[key] = {_TOP: 1, sym: 1}
                novel += 1
                continue
            selected += 1
            c = succ.get(sym)
            if c is None:
                succ[sym] = 1
                favourite = False
            else:
                predicted += 1
                top = succ[_TOP]
                favourite = c == top
                succ[sym] = c + 1
                if favourite:
                    succ[_TOP] = c + 1
        self._hist = ((h << SYMBOL_BITS) | sym) & self._full
        self._n = n + 1
        if len(table) > self._capacity:
            self._forget()
        if favourite and self._gate:
            return 0.0
        unpredicted = 1.0 - predicted / selected if selected else 1.0
        return 0.5 * (unpredicted + novel / len(pairs))

    def _forget(self) -> None:
        """Drop contexts seen once, then (if still over half full) the older half: memory stays bounded on endless
        series while the common contexts - the ones that make readings predictable - survive."""
        keep = {k: v for k, v in self._table.items() if v[_TOP] > 1}
        if len(keep) > self._capacity // 2:
            items = list(keep.items())
            keep = dict(items[len(items) // 2:])
        self._table = keep

    def __len__(self) -> int:
        return len(self._table)
