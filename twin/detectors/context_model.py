"""A variable-order context model over a stream of small symbols: how surprising is the next symbol?

WHY: the idea NAB's strongest streaming detectors share (HTM, CAD OSE) is to learn which coarse patterns follow
which and to raise an anomaly when the input stops being predictable. This is the plainest form of it: like a
PPM text compressor, remember for every recent run of symbols (orders 0..`max_order`) which symbols came next.
The surprise of a symbol is the fraction of the known contexts that never saw it follow, blended with the
fraction of contexts that are themselves new (the CAD OSE blend). Being a fraction of contexts, it means much
the same on every series; what is still usual for a noisy series is calibrated away downstream
(`SequenceSurprise`'s standardised CUSUM), not here.

A context's successors are one int: a bit per symbol seen after it, and above them how often the context was
seen (for forgetting). Scoring and learning happen in one pass over the orders (one dict lookup and one store
per order), which is what keeps the detector above 100k readings/s per core in pure Python, at ~100 B per
context instead of the ~250 B a dict of counts per context cost. Most readings of a steady series are a successor
every order already knew after this very context; once one has been seen so, `_known` answers it with one lookup
instead of one per order, exactly (nothing those lookups would store changes again; forgetting and `reset`
empty it): the detector's time per reading fell by a quarter, every score the same (`bench detector_fingerprint`).
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["ContextModel", "SYMBOLS"]

# Bits per symbol in the packed history: symbols 0..15, so a context of order k is one small int.
SYMBOL_BITS = 4
SYMBOLS = 1 << SYMBOL_BITS
# A context's entry is (times seen << SYMBOLS) | (bit per successor symbol): one int, updated by one addition.
_SEEN_ONE = 1 << SYMBOLS
# A context's count is only ever asked "seen more than once?" (`_forget`), so a known successor of a context seen
# twice stores nothing: most readings of a steady series are that, and skipping the store made `step` ~10 % cheaper.
_SEEN_TWICE = 2 * _SEEN_ONE


class ContextModel:
    """Successor sets for contexts of orders 0..`max_order`, at most `capacity` contexts.

    `step(sym)` returns the surprise of `sym` in [0, 1] (0 when every context of the recent symbols is known and
    has seen `sym` follow it) and then learns it.
    """

    __slots__ = ("_order", "_capacity", "_table", "_hist", "_n", "_pairs", "_full", "_known")
    # per full-order context, a bit per successor every order knew (`step`'s shortcut): rebuilt as the model goes,
    # so not saved with the detector's state. At most one entry per full-order context of the table.
    _TRANSIENT = ("_known",)

    def __init__(self, max_order: int = 6, capacity: int = 20_000) -> None:
        if not 1 <= max_order <= 12 or capacity < 16:
            raise ValueError("1 <= max_order <= 12 and capacity >= 16 are required")
        self._order = max_order
        self._capacity = capacity
        self._table: dict[int, int] = {}
        self._hist = 0
        self._n = 0
        # Per order: a leading 1 bit above the order's symbols (keeps contexts of different orders apart in one
        # table) and the mask of its symbols in the packed history.
        self._pairs = [(1 << (SYMBOL_BITS * k), (1 << (SYMBOL_BITS * k)) - 1) for k in range(max_order + 1)]
        self._full = (1 << (SYMBOL_BITS * max_order)) - 1
        self._known: dict[int, int] = {}

    def reset(self) -> None:
        """Forget everything (the symbols changed meaning)."""
        self._table = {}
        self._hist = 0
        self._n = 0
        self._known = {}

    def learn(self, sym: int) -> None:
        """Learn `sym` without scoring it (re-learning history)."""
        self.learn_all((sym,))

    def learn_all(self, symbols: Iterable[int]) -> None:
        """Learn `symbols` in order, exactly as `learn` on each would (the same entries, stored in the same order,
        forgotten at the same points). WHY a loop of its own: re-learning a 2,000-reading buffer after the level
        grid moves was ~15 % of the detector's time through `step`, which also scores every symbol."""
        table, known = self._table, self._known
        h, n, order, full, capacity = self._hist, self._n, self._order, self._full, self._capacity
        every = self._pairs
        for sym in symbols:
            bit = 1 << sym
            if known.get(h, 0) & bit:  # `step`'s shortcut: nothing to store
                h = ((h << SYMBOL_BITS) | sym) & full
                n += 1
                continue
            knew = 0
            for mark, mask in every if n >= order else every[:n + 1]:
                key = mark | (h & mask)
                entry = table.get(key)
                if entry is None:
                    table[key] = _SEEN_ONE | bit
                elif entry & bit:
                    knew += 1
                    if entry < _SEEN_TWICE:
                        table[key] = entry + _SEEN_ONE
                else:
                    table[key] = (entry + _SEEN_ONE) | bit
            if knew > order:  # all order + 1 orders knew it (only a full history has them all), as in `step`
                known[h] = known.get(h, 0) | bit
            h = ((h << SYMBOL_BITS) | sym) & full
            n += 1
            if len(table) > capacity:
                self._hist, self._n = h, n
                self._forget()
                table, known = self._table, self._known
        self._hist, self._n = h, n

    def step(self, sym: int) -> float:
        """Surprise of `sym` given the recent symbols, then learn it. `sym` must be in 0..15."""
        h = self._hist
        n = self._n
        self._hist = ((h << SYMBOL_BITS) | sym) & self._full
        self._n = n + 1
        bit = 1 << sym
        if self._known.get(h, 0) & bit:  # every order knew `sym` after this context: surprise 0, nothing to store
            return 0.0
        table = self._table
        get = table.get
        pairs = self._pairs if n >= self._order else self._pairs[:n + 1]
        new_entry = _SEEN_ONE | bit
        predicted = novel = 0
        for mark, mask in pairs:
            key = mark | (h & mask)
            entry = get(key)
            if entry is None:
                table[key] = new_entry
                novel += 1
            elif entry & bit:
                predicted += 1
                if entry < _SEEN_TWICE:  # only "seen once" matters to `_forget`: past it, nothing to store
                    table[key] = entry + _SEEN_ONE
            else:
                table[key] = (entry + _SEEN_ONE) | bit
        orders = len(pairs)
        if predicted == orders and n >= self._order:  # every order knew `sym` here, and has now seen it twice
            known = self._known
            known[h] = known.get(h, 0) | bit
        if len(table) > self._capacity:
            self._forget()
        selected = orders - novel
        unpredicted = 1.0 - predicted / selected if selected else 1.0
        return 0.5 * (unpredicted + novel / orders)

    def _forget(self) -> None:
        """Drop contexts seen once, then (if still over half full) the older half: memory stays bounded on endless
        series while the common contexts - the ones that make readings predictable - survive."""
        keep = {k: v for k, v in self._table.items() if v >= _SEEN_TWICE}
        if len(keep) > self._capacity // 2:
            items = list(keep.items())
            keep = dict(items[len(items) // 2:])
        self._table = keep
        self._known = {}

    def __len__(self) -> int:
        return len(self._table)
