"""The recordings root on disk: whether a message can be written there now.

Asked before a caller is offered to leave a message (the ARI app's flow engine, the dialplan's
fallback through the AGI server) and by ``hotline status``: a message that cannot be written must not
be offered, and a caller must never hear that it was saved.
"""
from __future__ import annotations

import os
from pathlib import Path

MB = 1024 * 1024


def free_mb(root: Path) -> float:
    """Free space (for an unprivileged writer such as Asterisk) on the filesystem of ``root``, in MB."""
    st = os.statvfs(root)
    return st.f_bavail * st.f_frsize / MB


def message_space_problem(root: Path, min_free_mb: int) -> str | None:
    """Why no message can be written under ``root`` now, or None when one can: the folder exists and is
    writable and more than ``min_free_mb`` MB are free."""
    try:
        free = free_mb(root)
    except OSError as exc:
        return f"the recordings root {root} cannot be read ({exc.strerror})"
    if not os.access(root, os.W_OK | os.X_OK):
        return f"the recordings root {root} is not writable"
    if free < min_free_mb:
        return f"only {free:.0f} MB free under {root}; [recordings] min_free_mb is {min_free_mb}"
    return None
