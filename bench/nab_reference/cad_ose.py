"""CAD OSE (Contextual Anomaly Detector, Open Source Edition; NAB's "contextOSE"), rebuilt as a NAB reference.

WHAT IT DOES. Each reading is discretised with the file's min/max into 3 bits (8 levels); each bit position gives one
"sensor fact" (2*position + bit). A context is a pair (left facts, right facts): left = the previous step's sensor facts
plus up to 15 "neuron" facts (2**31 + id of a context that was active then), right = the current sensor facts. Every
new (left, right) pair is stored as a zero-level context; intersections of stored zero-level contexts with the current
input create more contexts. A context is active when both of its halves are fully present. The raw score is
(1 - active/selected + added/potential) / 2, and it is forced to 0 while any raw score of the last probation/5 readings
(the initial history is [1.0]) reached 0.75.

SOURCE. numenta/NAB master: nab/detectors/context_ose/context_ose_detector.py (e3e8718b), cad_ose.py (a9853caf),
context_operator.py (451503a1) -- the Numenta-licensed revision without the older 65536 sensor offset and prediction
error gate (the older revision, 059c7823, does NOT reproduce NAB's results files). The older nab/detectors/cad_ose/
folder is not what the scoreboard used. NAB's published results/contextOSE/*.csv were written by that code under
Python 2.7 (12-significant-digit floats, unrounded): our reference reproduces Python 2.7 semantics where they change
results, namely
  * the 64-bit Python 2 tuple hash: contexts are keyed by it and active contexts are ranked by (activations,
    left hash, right hash) when choosing the 15 neurons;
  * Python 2 dict iteration order of each left semi-context's {right id: context id} table (`.items()`), which fixes
    the order in which new contexts, hence their ids and neuron facts, are created (without it, 11 readings of
    the seven shared series differ).
Running the same NAB code under Python 3 changes 4-90% of the scores of each of the seven shared series.

VERIFIED against NAB's code run under Python 2.7.18 (driver feeding value, min, max and restPeriod = probation/5.0
with probation = min(floor(0.15 n), 750), as nab/util.getProbationPeriod): max |difference| 0.0 (bit-identical) on
the seven /work/shared/data/nab series and on synthetic series (noise, step, spike, constant run); the Python 2 run
equals NAB's published results/contextOSE/ files (speed_7578 rows 1-330, ec2_request_latency rows of 2014-03-16/17)
to their 12 digits. NAB writes those scores unrounded.

Quirks reproduced on purpose: NAB's "no new zero-level context" marker is False, and `False != 0` is False, so context
0 is skipped in every step that creates no zero-level context; the history window is `[-int(probation/5.0):]`, which
is the whole history when probation < 5.
"""
from __future__ import annotations

import numpy as np

NAME = "cad_ose"
PUBLISHED = 69.9

_BASE_THRESHOLD = 0.75     # ContextualAnomalyDetectorOSE baseThreshold
_MAX_LEFT_LEN = 7          # maxLeftSemiContextsLenght: longest left part of a context built by intersection
_MAX_NEURONS = 15          # maxActiveNeuronsNum: active contexts fed back as facts
_NUM_BITS = 3              # numNormValueBits
_MAX_BIN = 2.0 ** _NUM_BITS - 1.0   # maxBinValue = 7.0
_NEURON_BASE = 2 ** 31     # neuron fact = 2**31 + context id
_M64 = (1 << 64) - 1


def _py2_tuple_hash(t):
    """CPython 2.7 tuplehash on 64-bit, for tuples of non-negative ints (whose Python 2 hash is themselves)."""
    x = 0x345678
    mult = 1000003
    n = len(t)
    for y in t:
        n -= 1
        x = ((x ^ y) * mult) & _M64
        mult += 82520 + n + n
    x = (x + 97531) & _M64
    if x >> 63:
        x -= 1 << 64
    return -2 if x == -1 else x


def _py2_insert(table, key):
    """CPython 2.7 open addressing (lookdict / insertdict_clean) for an int key, no deleted slots."""
    mask = len(table) - 1
    i = key & mask
    perturb = key
    while table[i & mask] is not None:
        i = (i * 5 + perturb + 1) & _M64
        perturb >>= 5
    table[i & mask] = key


def _py2_order(keys):
    """Iteration order of a CPython 2.7 dict filled (setdefault, never deleted) with the int `keys` in this order."""
    table = [None] * 8
    used = 0
    for k in keys:
        _py2_insert(table, k)
        used += 1
        if used * 3 >= len(table) * 2:           # PyDict_SetItem: fill*3 >= (mask+1)*2 -> dictresize(4*used)
            size = 8
            while size <= 4 * used:
                size <<= 1
            old, table = table, [None] * size
            for key in old:
                if key is not None:
                    _py2_insert(table, key)
    return [k for k in table if k is not None]


class _Grow:
    """An int array that grows by doubling (NAB's per-fact lists of left semi-contexts, as numpy)."""
    __slots__ = ("buf", "n")

    def __init__(self, dtype=np.int64):
        self.buf = np.zeros(16, dtype=dtype)
        self.n = 0

    def append(self, x):
        if self.n == len(self.buf):
            self.buf = np.concatenate([self.buf, np.zeros_like(self.buf)])
        self.buf[self.n] = x
        self.n += 1

    def view(self):
        return self.buf[:self.n]


class _CadOse:
    def __init__(self, input_min, input_max, rest_period):
        self.min_value = float(input_min)
        full_range = float(input_max) - self.min_value
        if full_range == 0.0:
            full_range = _MAX_BIN
        self.step_value = full_range / _MAX_BIN            # minValueStep
        self.rest = int(rest_period)                       # NAB slices aScoresHistory[-int(restPeriod):]
        self.n_hist = 1                                    # len(aScoresHistory), which starts as [1.0]
        self.last_high = 0                                 # index of its last score >= baseThreshold
        self.group = ()                                    # leftFactsGroup (sorted tuple)
        self.hash_memo = {}
        # left semi-contexts: id by Python 2 hash (as NAB keys them), facts, length, {right id: context id}
        self.left_ids = {}
        self.left_facts = []
        self.left_len = _Grow()
        self.left_map = []
        self.left_keys = []                                # right ids in insertion order
        self.left_by_fact = {}                             # fact -> _Grow of left ids (NAB's factsDics[0])
        # right semi-contexts: subsets of the sensor facts, so at most 26
        self.right_ids = {}
        self.right_facts = []
        self.right_len = []
        self.right_memo = {}
        # contexts, one entry per context id
        self.c_left = _Grow()
        self.c_right = _Grow()
        self.c_pos = _Grow()                               # rank in its left's Python 2 dict iteration order
        self.c_zero = _Grow(np.bool_)                      # zero-level flag
        self.c_count = _Grow()                             # activations
        self.c_lh = _Grow()                                # Python 2 hash of the left facts
        self.c_rh = _Grow()                                # Python 2 hash of the right facts
        self.cnt = np.zeros(0, dtype=np.int64)             # facts of each left in the group (last left crossing)

    def _hash(self, t):
        h = self.hash_memo.get(t)
        if h is None:
            h = self.hash_memo[t] = _py2_tuple_hash(t)
        return h

    def _get_context(self, left, right, zero_level):
        """ContextOperator.getContextByFacts for one pair: returns (context id, created)."""
        lh = self._hash(left)
        rh = self._hash(right)
        lid = self.left_ids.get(lh)
        if lid is None:
            lid = self.left_ids[lh] = len(self.left_facts)
            self.left_facts.append(left)
            self.left_len.append(len(left))
            self.left_map.append({})
            self.left_keys.append([])
            lbf = self.left_by_fact
            for f in left:
                g = lbf.get(f)
                if g is None:
                    g = lbf[f] = _Grow()
                g.append(lid)
        rid = self.right_ids.get(rh)
        if rid is None:
            rid = self.right_ids[rh] = len(self.right_facts)
            self.right_facts.append(right)
            self.right_len.append(len(right))
        cmap = self.left_map[lid]
        cid = cmap.get(rid)
        if cid is not None:
            if zero_level:
                self.c_zero.buf[cid] = True
            return cid, False
        cid = cmap[rid] = self.c_count.n
        keys = self.left_keys[lid]
        keys.append(rid)
        self.c_left.append(lid)
        self.c_right.append(rid)
        self.c_pos.append(0)
        self.c_zero.append(bool(zero_level))
        self.c_count.append(0)
        self.c_lh.append(lh)
        self.c_rh.append(rh)
        pos = self.c_pos.buf
        for p, k in enumerate(_py2_order(keys)):
            pos[cmap[k]] = p
        return cid, True

    def _rights(self, sens):
        """Right crossing: facts present per right semi-context; fully present and partly present masks."""
        key = (sens, len(self.right_facts))
        r = self.right_memo.get(key)
        if r is None:
            count = np.array([sum(1 for f in t if f in sens) for t in self.right_facts] or [0], dtype=np.int64)
            lens = np.array(self.right_len or [1], dtype=np.int64)
            r = self.right_memo[key] = (count == lens, count > 0)
        return r

    def score(self, value):
        norm = int((value - self.min_value) / self.step_value)
        # NAB: bin(norm) padded to 3 digits, fact 2*position + bit per digit (more digits only if a value lies
        # above input_max, which NAB's own min/max rule out; a value below input_min is not supported)
        sens = tuple(2 * s + ((norm >> s) & 1) for s in range(max(_NUM_BITS, norm.bit_length())))
        # zero-level context (previous group, current sensor facts); new_ctx is NAB's newContextID, whose
        # "none" value False equals context id 0 in its `!=` test
        flag = False
        new_ctx = 0
        prev_group = self.group
        if prev_group:
            cid, flag = self._get_context(prev_group, sens, 1)
            if flag:
                new_ctx = cid
        r_full, r_some = self._rights(sens)
        # updateContextsAndGetActive, over the lefts crossed by the previous group
        nc = self.c_count.n
        nl = len(self.left_facts)
        cnt = self.cnt
        if len(cnt) < nl:
            cnt = np.concatenate([cnt, np.zeros(nl - len(cnt), dtype=np.int64)])
        left_full = cnt == self.left_len.buf[:nl]
        cl = self.c_left.buf[:nc]
        cr = self.c_right.buf[:nc]
        selected = left_full[cl]
        if nc:
            selected[new_ctx] = False
        n_sel = int(np.count_nonzero(selected))
        right_full = r_full[cr]
        act = np.flatnonzero(selected & right_full)
        counts = self.c_count.buf
        counts[act] += 1
        pot = {}
        if flag:
            c = cnt[cl]
            cand = self.c_zero.buf[:nc] & (c > 0) & (c <= _MAX_LEFT_LEN) & r_some[cr] & ~(left_full[cl] & right_full)
            cand[new_ctx] = False
            cand = np.flatnonzero(cand)
            if len(cand):
                cand = cand[np.lexsort((self.c_pos.buf[cand], cl[cand]))]
                in_prev = set(prev_group).__contains__
                in_sens = set(sens).__contains__
                lmemo = {}
                rmemo = {}
                for lid, rid in zip(cl[cand].tolist(), cr[cand].tolist(), strict=True):
                    lm = lmemo.get(lid)
                    if lm is None:
                        lm = lmemo[lid] = tuple(filter(in_prev, self.left_facts[lid]))
                    rm = rmemo.get(rid)
                    if rm is None:
                        rm = rmemo[rid] = tuple(filter(in_sens, self.right_facts[rid]))
                    pot[(lm, rm)] = None           # first occurrences, in NAB's order
            n_uniq = len(pot) + ((prev_group, sens) not in pot)
        n_act = len(act)
        sel_active = n_act / float(n_sel) if n_sel > 0 else 0.0
        # the 15 most activated active contexts (ties: Python 2 hashes of left, then right) become facts
        if n_act > _MAX_NEURONS:
            act = act[np.lexsort((self.c_rh.buf[act], self.c_lh.buf[act], counts[act]))[-_MAX_NEURONS:]]
        group = sorted(sens + tuple(_NEURON_BASE + a for a in act.tolist()))
        self.group = group = tuple(group)
        # left crossing, after storing the potential new contexts
        n_new = 0
        for left, right in pot:
            n_new += self._get_context(left, right, 0)[1]
        lbf = self.left_by_fact
        parts = [lbf[f].view() for f in group if f in lbf]
        self.cnt = np.bincount(np.concatenate(parts), minlength=len(self.left_facts)) if parts else \
            np.zeros(len(self.left_facts), dtype=np.int64)
        added = (n_new + 1) / float(n_uniq) if flag else 0.0
        current = (1.0 - sel_active + added) / 2.0
        # max(aScoresHistory[-rest:]) < baseThreshold; rest == 0 slices the whole history (whose [0] is 1.0)
        out = current if self.rest and self.last_high < self.n_hist - self.rest else 0.0
        if current >= _BASE_THRESHOLD:
            self.last_high = self.n_hist
        self.n_hist += 1
        return out


def scores(values, timestamps, input_min, input_max, probation):
    """One CAD OSE score per reading; restPeriod = probation / 5.0 as in NAB's ContextOSEDetector.initialize."""
    det = _CadOse(input_min, input_max, probation / 5.0)
    vals = np.asarray(values, dtype=np.float64)
    return np.array([det.score(v) for v in vals.tolist()], dtype=np.float64)
