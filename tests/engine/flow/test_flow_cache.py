"""The parallel driver's numba cache must not outlive an edit of the kernel it compiles in.

Why: numba keys a function's on-disk cache on the hash of its own source file only. ``simulate_numba``
(kernel_parallel.py) compiles ``run_batch`` (kernel_numba.py, kernel_steps.py) and ``sample_batch``
(sampling.py) into itself, so an edit of those files alone left the old compiled kernel in use (seen
2026-12-04: a kernel edit timed as the previous kernel). ``KERNEL_SOURCES`` in kernel_parallel.py carries
their hash, so editing them means editing kernel_parallel.py too, which recompiles the driver.
"""

from __future__ import annotations

from pathlib import Path

from engine.flow import kernel_parallel
from engine.flow.kernel_parallel import kernel_sources_hash


def test_driver_stamp_matches_kernel_sources() -> None:
    want = kernel_sources_hash(Path(kernel_parallel.__file__).parent)
    assert kernel_parallel.KERNEL_SOURCES == want, (
        f"a flow kernel source (KERNEL_FILES) changed: set KERNEL_SOURCES = \"{want}\" in "
        "engine/flow/kernel_parallel.py (so numba recompiles the parallel driver instead of loading the old "
        "kernel from its cache)")
