"""Errors of the local stack: each names what failed and where its log is."""

from __future__ import annotations

from pathlib import Path


class StackError(RuntimeError):
    """A stack component could not be provisioned, started, reached or stopped."""

    def __init__(self, component: str, message: str, log: Path | None = None) -> None:
        self.component = component
        self.log = log
        detail = f"{component}: {message}"
        if log is not None:
            detail += f"\n  log: {log}"
            tail = _tail(log)
            if tail:
                detail += "\n  last lines:\n" + "\n".join(f"    {line}" for line in tail)
        super().__init__(detail)


def _tail(path: Path, lines: int = 15) -> list[str]:
    try:
        return path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return []
