"""Replay the default detector over NAB series and score them with NAB's standard profile.

WHY: one repeatable command to check that detection quality and replay speed hold after a change.
Usage: python bench/nab.py [--data DIR] [--windows FILE] [--scorer FILE] [--json]
Defaults follow the repo layout: ../shared/data/nab and ../shared/tools/nab_score.py beside the repo folder.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from omnitrack.detect import detect_path  # noqa: E402

SHARED = REPO.parent / "shared"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=SHARED / "data" / "nab", help="folder of NAB CSVs")
    ap.add_argument("--windows", type=Path, default=None, help="windows.json (default: DATA/windows.json)")
    ap.add_argument("--scorer", type=Path, default=SHARED / "tools" / "nab_score.py", help="nab_score.py")
    ap.add_argument("--json", action="store_true", help="print one JSON object last")
    args = ap.parse_args(argv)
    windows = args.windows or args.data / "windows.json"

    with tempfile.TemporaryDirectory(prefix="nab-") as tmp:
        t0 = time.perf_counter()
        outputs = detect_path(args.data, Path(tmp))
        elapsed = time.perf_counter() - t0
        points = sum(sum(1 for _ in p.open()) - 1 for p in outputs)
        proc = subprocess.run(
            [sys.executable, str(args.scorer), str(windows), str(args.data), tmp],
            capture_output=True, text=True, check=False,
        )
    if proc.returncode != 0:
        print(proc.stdout + proc.stderr, file=sys.stderr)
        return proc.returncode
    m = re.search(r"threshold (\S+)\s+approximate NAB standard score (\S+) over (\d+) series", proc.stdout)
    score = float(m.group(2)) if m else None
    threshold = float(m.group(1)) if m else None
    rate = points / elapsed if elapsed > 0 else float("inf")
    print(proc.stdout.strip())
    print(f"replayed {len(outputs)} files, {points} points in {elapsed:.2f} s ({rate:,.0f} points/s)")
    if args.json:
        print(json.dumps({"score": score, "threshold": threshold, "series": len(outputs), "points": points,
                          "seconds": round(elapsed, 3), "points_per_s": round(rate)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
