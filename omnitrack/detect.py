"""Offline replay of the streaming detectors over CSV files (`omnitrack detect FILE_OR_DIR [-o OUT]`).

WHY: an alert in production must be reproducible and the detectors must be measurable on benchmarks (NAB).
This module feeds each CSV row, in order, to exactly the detector the engine runs online
(`twin.detectors.default_detector`), one reading at a time, so replayed scores equal online scores. It only does
the file I/O; all detection logic stays in the pure `twin.detectors` package.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from twin.detectors import Detector, default_detector
from twin.detectors.base import words_for

__all__ = ["DetectError", "Refused", "Replayed", "detect_csv", "detect_path", "parse_timestamp"]

# Rows written per call: one writerow per row cost a tenth of the replay; a bounded batch keeps memory flat on
# files of any length.
_WRITE_BATCH = 4096
_LINES_NAMED = 5
"""Unreadable rows named by line in a report: enough to find the problem, bounded for a file that is all bad."""
_EPOCH_NAIVE = datetime(1970, 1, 1)  # naive times are UTC
_EPOCH_UTC = datetime(1970, 1, 1, tzinfo=timezone.utc)


def parse_timestamp(text: str) -> float:
    """Seconds since the epoch from an epoch number or an ISO-8601 string (naive times are taken as UTC)."""
    s = text.strip()
    # ISO dates first when it looks like one (YYYY-...): a failed float() costs more than the date parse itself,
    # and NAB-style files are all dates.
    if len(s) < 10 or s[4] != "-":
        try:
            return float(s)
        except ValueError:
            pass
    dt = datetime.fromisoformat(s)
    # A subtraction, not dt.replace(tzinfo=utc).timestamp(): the same exact timedelta arithmetic (timestamp() of an
    # aware time is this very subtraction) at a quarter of the cost, a tenth of the replay's time per point.
    return (dt - (_EPOCH_NAIVE if dt.tzinfo is None else _EPOCH_UTC)).total_seconds()


class DetectError(ValueError):
    """A file that cannot be replayed at all: empty, no `timestamp`/`value` header, not UTF-8 text, or not CSV."""


@dataclass(frozen=True)
class Replayed:
    """What one file's replay did. `unreadable` rows (no readable timestamp or value, or too few columns) are
    written back verbatim with a score of 0 and never reach the detector; `first_unreadable` names their lines."""

    src: Path
    dst: Path
    rows: int
    unreadable: int = 0
    first_unreadable: tuple[int, ...] = ()


@dataclass(frozen=True)
class Refused:
    """A file `detect_path` could not replay (its other files are replayed all the same); nothing was written."""

    src: Path
    reason: str


def detect_csv(src: Path, dst: Path, factory: Callable[[], Detector] = default_detector,
               explain_at: float | None = None) -> Replayed:
    """Score `src` (CSV with `timestamp,value` columns) into `dst` as `timestamp,value,anomaly_score`; with
    `explain_at`, a fourth column `reason`: the detector's words (as the engine's alerts carry them) for each row
    scoring at or above it, empty elsewhere.

    One output row per input row, timestamp and value written verbatim, so the output lines up with the input
    whatever a row holds. A fresh detector is used per file (one file = one metric). The output appears only
    once the whole file is scored (written aside, then renamed): a refused file leaves no half-written output
    that a scorer could take for a whole one. Raises `DetectError` for a file that cannot be replayed.
    """
    src, dst = Path(src), Path(dst)
    detector = factory()
    dst.parent.mkdir(parents=True, exist_ok=True)
    partial = dst.with_name(dst.name + ".partial")
    try:
        rows, unreadable, first = _replay(src, partial, detector, explain_at)
    except DetectError:
        partial.unlink(missing_ok=True)
        dst.unlink(missing_ok=True)  # an earlier run's output of this file would pass for this one's
        raise
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, dst)
    return Replayed(src, dst, rows, unreadable, first)


def _replay(src: Path, partial: Path, detector: Detector,
            explain_at: float | None) -> tuple[int, int, tuple[int, ...]]:
    """Read `src`, score each row into `partial`: (rows written, unreadable rows, the first unreadable lines)."""
    rows, unreadable, first = 0, 0, []
    update = detector.update
    with src.open(newline="", encoding="utf-8-sig") as fin, partial.open("w", newline="") as fout:
        reader = csv.reader(fin)
        try:
            header = next(reader, None)
            if header is None:
                raise DetectError(f"{src}: empty file, expected a 'timestamp,value' header")
            names = [h.strip().lower() for h in header]
            try:
                ti, vi = names.index("timestamp"), names.index("value")
            except ValueError:
                raise DetectError(f"{src}: header {header!r} lacks 'timestamp' and 'value' columns") from None
            writer = csv.writer(fout, lineterminator="\n")
            writer.writerow(["timestamp", "value", "anomaly_score"] + (["reason"] if explain_at is not None else []))
            width = max(ti, vi) + 1
            out: list[tuple[str, ...]] = []
            for row in reader:
                if not row:
                    continue
                if len(row) < width:
                    row = row + [""] * (width - len(row))
                    score = None
                else:
                    score = _score(update, row[ti], row[vi])
                if score is None:
                    unreadable += 1
                    if len(first) < _LINES_NAMED:
                        first.append(reader.line_num)
                    score = 0.0
                if explain_at is None:
                    out.append((row[ti], row[vi], f"{score:.6f}"))
                else:  # a row that scores above 0 was readable: its value parses
                    said = words_for(detector, float(row[vi])) if score > 0.0 and score >= explain_at else ""
                    out.append((row[ti], row[vi], f"{score:.6f}", said))
                if len(out) == _WRITE_BATCH:
                    writer.writerows(out)
                    rows += len(out)
                    out.clear()
            writer.writerows(out)
            rows += len(out)
        except UnicodeDecodeError as err:
            raise DetectError(f"{src}: not UTF-8 text (line {reader.line_num + 1}: {err.reason})") from None
        except csv.Error as err:
            raise DetectError(f"{src}: line {reader.line_num}: not CSV ({err})") from None
    return rows, unreadable, tuple(first)


def _score(update: Callable[[float, float], float], stamp: str, raw: str) -> float | None:
    """The detector's score of one row; None (detector untouched) when the timestamp or value cannot be read.
    A readable non-finite value ("nan", "inf") is the detector's to handle: it scores 0 and leaves its state."""
    try:
        timestamp = parse_timestamp(stamp)
        value = float(raw)
    except (ValueError, OverflowError):
        return None
    return update(timestamp, value)


def detect_path(src: Path, dst: Path, factory: Callable[[], Detector] = default_detector,
                explain_at: float | None = None) -> list[Replayed | Refused]:
    """Score one CSV file, or every `*.csv` under a folder (recursively), mirroring relative paths under `dst`.

    For a single file, `dst` may be a file path (`*.csv`) or a folder (the output keeps the input's name).
    Returns one report per input, in sorted input order; a file that cannot be replayed is reported as
    `Refused` and the others are replayed all the same (one bad file in a corpus must not cost the rest).
    """
    src, dst = Path(src), Path(dst)
    if src.is_file():
        out = dst / src.name if dst.is_dir() or dst.suffix.lower() != ".csv" else dst
        return [_one(src, out, factory, explain_at)]
    if not src.is_dir():
        raise FileNotFoundError(src)
    dst_resolved = dst.resolve()
    inputs = [
        p
        for p in sorted(src.rglob("*.csv"))
        # never re-read our own outputs when OUT lies inside the input folder
        if p.is_file() and not p.resolve().is_relative_to(dst_resolved)
    ]
    return [_one(p, dst / p.relative_to(src), factory, explain_at) for p in inputs]


def _one(src: Path, dst: Path, factory: Callable[[], Detector], explain_at: float | None) -> Replayed | Refused:
    try:
        return detect_csv(src, dst, factory, explain_at)
    except (DetectError, OSError) as err:
        return Refused(src, str(err))
