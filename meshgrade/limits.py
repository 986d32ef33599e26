"""Bounds that keep hostile submissions from hanging or exhausting the grader."""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int = 1 * MIB
    max_files: int = 5000
    max_total_bytes: int = 64 * MIB
    max_depth: int = 100
    max_nodes: int = 1_000_000
    clone_timeout_s: float = 60.0
    clone_max_bytes: int = 200 * MIB
