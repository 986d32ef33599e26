"""Fetching a submission from git: a shallow, hook-less, bounded clone."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from .limits import Limits

_URL = re.compile(r"^(https?|git|ssh|file)://|^[\w.-]+@[\w.-]+:")


class SourceError(Exception):
    """The submission could not be fetched or opened (not the student's fault)."""


def is_git_url(source: str) -> bool:
    return bool(_URL.match(source)) or source.endswith(".git") and not Path(source).is_dir()


def _git_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update({
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_LFS_SKIP_SMUDGE": "1",
        "GIT_ALLOW_PROTOCOL": "file:git:http:https:ssh",
        "GIT_SSH_COMMAND": "ssh -o BatchMode=yes -o ConnectTimeout=15",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
    })
    return env


_SAFE_CONFIG = [
    "-c", "core.hooksPath=" + os.devnull, "-c", "core.fsmonitor=false",
    "-c", "filter.lfs.smudge=", "-c", "filter.lfs.process=", "-c", "filter.lfs.required=false",
    "-c", "protocol.ext.allow=never", "-c", "submodule.recurse=false",
]


def _du(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def clone(url: str, limits: Limits, ref: str | None = None) -> tuple[Path, str | None]:
    """Clone ``url`` shallow into a new temporary folder; return (folder, commit).

    The caller removes the folder. Raises SourceError with what went wrong.
    """
    if url.startswith("-"):
        raise SourceError(f"refusing a git URL that starts with '-': {url!r}")
    if Path(url).is_dir() and not url.startswith("file://"):
        url = Path(url).resolve().as_uri()
    dest = Path(tempfile.mkdtemp(prefix="meshgrade-clone-"))
    target = dest / "repo"
    cmd = ["git", *_SAFE_CONFIG, "clone", "--quiet", "--depth", "1", "--no-recurse-submodules",
           "--single-branch", "--no-tags"]
    if ref:
        cmd += ["--branch", ref]
    cmd += ["--", url, str(target)]
    try:
        proc = subprocess.Popen(cmd, env=_git_env(), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    except OSError as exc:
        shutil.rmtree(dest, ignore_errors=True)
        raise SourceError(f"cannot run git: {exc}") from exc
    deadline = time.monotonic() + limits.clone_timeout_s
    reason = None
    while proc.poll() is None:
        if time.monotonic() > deadline:
            reason = f"git clone took longer than {limits.clone_timeout_s:.0f} s"
        elif _du(dest) > limits.clone_max_bytes:
            reason = f"the repository is larger than {limits.clone_max_bytes / 2**20:g} MiB"
        if reason:
            proc.kill()
            proc.wait()
            break
        time.sleep(0.05)
    stderr = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    if not reason and proc.returncode == 0 and _du(dest) > limits.clone_max_bytes:
        reason = f"the repository is larger than {limits.clone_max_bytes / 2**20:g} MiB"
    if reason or proc.returncode != 0:
        shutil.rmtree(dest, ignore_errors=True)
        raise SourceError(f"cannot clone {url}: {reason or stderr.strip() or 'git failed'}")
    return target, read_head(target)


def read_head(folder: Path) -> str | None:
    """The commit checked out in ``folder``, read from .git files (git is not run)."""
    git = folder / ".git"
    try:
        if git.is_file():  # worktree or submodule: "gitdir: <path>"
            text = git.read_text("utf-8", "replace").strip()
            if not text.startswith("gitdir:"):
                return None
            git = (folder / text[7:].strip()).resolve()
        head = (git / "HEAD").read_text("utf-8", "replace").strip()
        if not head.startswith("ref:"):
            return head if re.fullmatch(r"[0-9a-f]{40,64}", head) else None
        ref = head[4:].strip()
        loose = git / ref
        if loose.is_file() and ".." not in ref:
            return loose.read_text("utf-8", "replace").strip() or None
        packed = git / "packed-refs"
        if packed.is_file():
            for line in packed.read_text("utf-8", "replace").splitlines():
                sha, _, name = line.partition(" ")
                if name == ref:
                    return sha
    except OSError:
        return None
    return None
