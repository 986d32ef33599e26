"""Bounds that keep hostile submissions from hanging or exhausting the grader."""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1024 * 1024
BUDGET_HINT = ("Keep only the assignment's manifests in the repository: remove generated, "
               "vendored or data YAML.")


@dataclass(frozen=True)
class Limits:
    """``max_file_bytes`` and ``max_depth`` bound one file; ``max_files``,
    ``max_total_bytes``, ``max_nodes`` (YAML nodes after alias expansion) and
    ``max_documents`` (empty ones too) are budgets for the whole submission: loading stops
    at the first one exceeded. For scale, Istio's ``samples/`` folder is 139 files, 0.5 MB,
    352 documents and 17,482 nodes (costs at the budgets: benchmarks/RESULTS.md)."""

    max_file_bytes: int = 1 * MIB
    max_files: int = 5000
    max_total_bytes: int = 16 * MIB
    max_depth: int = 100
    max_nodes: int = 100_000
    max_documents: int = 10_000
    clone_timeout_s: float = 60.0
    clone_max_bytes: int = 200 * MIB
