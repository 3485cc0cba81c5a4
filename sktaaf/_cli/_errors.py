"""The error a user can fix, shared by every command (imports nothing)."""

from __future__ import annotations

__all__ = ["UsageError"]


class UsageError(Exception):
    """An error the user can fix (a file, an id, an option): printed as one
    line, exit status 2."""
