"""``meshgrade batch --shard I/N``: grade a deterministic, disjoint slice of the roster.

Shard ``I`` of ``N`` (1 <= I <= N) takes the roster's rows I, I + N, I + 2N... in roster order
(after rows left out, such as a Classroom row without a repository), so the N shards together
grade every student exactly once and their sizes differ by one at most. Each shard writes its
own output folder; ``meshgrade gradebook collect`` over the folders merges them.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")
_FORM = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")


@dataclass(frozen=True)
class Shard:
    index: int  # 1-based
    count: int

    def take(self, rows: Sequence[T]) -> list[T]:
        """This shard's rows: every ``count``-th row from row ``index``."""
        return list(rows[self.index - 1::self.count])

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    """``I/N`` with 1 <= I <= N; argparse's ``type=`` (a bad value exits 2 with a message)."""
    match = _FORM.fullmatch(text)
    if not match or not 1 <= int(match.group(1)) <= int(match.group(2)):
        raise argparse.ArgumentTypeError(
            f"{text!r}: give I/N with 1 <= I <= N (shard I of N), e.g. 2/3; from a "
            "Kubernetes Indexed Job: $((JOB_COMPLETION_INDEX + 1))/N")
    return Shard(int(match.group(1)), int(match.group(2)))


__all__ = ["Shard", "parse_shard"]
