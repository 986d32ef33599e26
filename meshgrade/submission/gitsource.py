"""Fetching a submission from git: a shallow, hook-less, bounded clone; or, to grade a
due time's commit, a clone with the branch's history and a detached checkout."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from ..grading.history import NoCommitInTime, Pick, parse_due, parse_log, pick_at, pick_due
from .limits import Limits

_URL = re.compile(r"^(https?|git|ssh|file)://|^[\w.-]+@[\w.-]+:")
_REMOTE = re.compile(r"^(https?|git|ssh)://|^[\w.-]+@[\w.-]+:")
_OBJECT_NAME = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
HEAD_TIMEOUT_S = 20.0
_CREDENTIALS = re.compile(r"\b([a-z][a-z0-9+.-]*://)[^/@\s]+@", re.IGNORECASE)


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


def _bounded(cmd: list[str], what: str, watch: Path, limits: Limits, deadline: float,
             env: dict[str, str] | None = None) -> str | None:
    """Run git ``cmd`` (``what`` it does) until it ends, the ``deadline`` passes or ``watch``
    outgrows the size budget; None when it succeeded, else what went wrong (an interrupt
    kills git and is raised)."""
    try:
        proc = subprocess.Popen(cmd, env=env or _git_env(), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    except OSError as exc:
        return f"cannot run git: {exc}"
    reason = None
    try:
        while proc.poll() is None:
            if time.monotonic() > deadline:
                reason = f"git {what} took longer than {limits.clone_timeout_s:.0f} s"
            elif _du(watch) > limits.clone_max_bytes:
                reason = f"the repository is larger than {limits.clone_max_bytes / 2**20:g} MiB"
            if reason:
                proc.kill()
                proc.wait()
                break
            time.sleep(0.05)
    except BaseException:  # interrupted: stop git; the caller removes what it wrote
        proc.kill()
        proc.wait()
        raise
    finally:
        stderr = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
        if proc.stderr:
            proc.stderr.close()
    if not reason and proc.returncode == 0 and _du(watch) > limits.clone_max_bytes:
        reason = f"the repository is larger than {limits.clone_max_bytes / 2**20:g} MiB"
    if reason or proc.returncode != 0:
        return reason or redact_text(stderr.strip()) or "git failed"
    return None


def _clone_into(url: str, limits: Limits, options: list[str]) -> tuple[Path, float]:
    """Clone ``url`` with ``options`` into a new temporary folder; (the clone, the deadline
    that bounds all git work on it). Raises SourceError; leaves nothing behind then."""
    if url.startswith("-"):
        raise SourceError(f"refusing a git URL that starts with '-': {redact_url(url)!r}")
    if Path(url).is_dir() and not url.startswith("file://"):
        url = Path(url).resolve().as_uri()
    dest = Path(tempfile.mkdtemp(prefix="meshgrade-clone-"))
    target = dest / "repo"
    cmd = ["git", *_SAFE_CONFIG, "clone", "--quiet", "--no-recurse-submodules",
           "--single-branch", "--no-tags", *options, "--", url, str(target)]
    deadline = time.monotonic() + limits.clone_timeout_s
    try:
        problem = _bounded(cmd, "clone", dest, limits, deadline)
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    if problem:
        shutil.rmtree(dest, ignore_errors=True)
        raise SourceError(f"cannot clone {redact_url(url)}: {problem}")
    return target, deadline


def clone(url: str, limits: Limits, ref: str | None = None) -> tuple[Path, str | None]:
    """Clone ``url`` shallow into a new temporary folder; return (folder, commit).

    The caller removes the folder. Raises SourceError with what went wrong.
    """
    target, _deadline = _clone_into(url, limits,
                                    ["--depth", "1", *(["--branch", ref] if ref else [])])
    return target, read_head(target)


def _plain_git_dir(folder: Path) -> Path | None:
    """``folder/.git`` when it is a real folder that links to no other repository (no
    ``commondir``, no alternates), else None: a submission's ``.git`` is data."""
    git_dir = folder / ".git"
    try:
        if git_dir.is_symlink() or not git_dir.is_dir():
            return None
        for pointer in ("commondir", "objects/info/alternates"):  # links to other repos
            if os.path.lexists(git_dir / pointer):
                return None
    except OSError:
        return None
    return git_dir


def _reader_env(folder: Path) -> dict[str, str]:
    """The hardened environment for git reading a repository in ``folder``."""
    return {**_git_env(), "GIT_CEILING_DIRECTORIES": str(folder.absolute().parent),
            "GIT_NO_REPLACE_OBJECTS": "1", "GIT_OPTIONAL_LOCKS": "0"}


def _git_out(git_dir: Path, args: list[str], timeout: float) -> str | None:
    """stdout of ``git --git-dir GIT_DIR ARGS`` (hardened), or None when it failed."""
    cmd = ["git", "--no-pager", *_SAFE_CONFIG, "--git-dir", str(git_dir.absolute()), *args]
    try:
        proc = subprocess.run(cmd, env=_reader_env(git_dir.parent), stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=max(timeout, 1.0), check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.decode("utf-8", "replace") if proc.returncode == 0 else None


def read_head(folder: Path) -> str | None:
    """The commit checked out in ``folder``, asked of git itself, or None.

    A submission's ``.git`` is data: it must be a real folder inside ``folder`` (a ``.git``
    file or link naming another place is not followed), and git runs with the hardened
    environment, its answer kept only when it is a full object name.
    """
    git_dir = _plain_git_dir(folder)
    if git_dir is None:
        return None
    out = _git_out(git_dir, ["rev-parse", "--verify", "--quiet", "--end-of-options", "HEAD"],
                   HEAD_TIMEOUT_S)
    head = (out or "")[:200].strip()
    return head if _OBJECT_NAME.fullmatch(head) else None


@dataclass(frozen=True)
class Pin:
    """Grade a chosen commit instead of the branch's newest: the newest dated at or before
    ``due``, or ``commit`` (a revision of the graded branch)."""

    due: datetime | None = None
    commit: str | None = None


def parse_pin(due: str | None, commit: str | None) -> Pin | None:
    """The Pin of ``--due`` / ``--commit`` (None when neither is given); ValueError saying
    what is wrong."""
    if due is not None and commit is not None:
        raise ValueError("give --due or --commit, not both")
    if commit is not None and (not commit or commit.startswith("-")):
        raise ValueError(f"--commit {commit!r}: give a commit name or revision")
    if due is None:
        return Pin(commit=commit) if commit is not None else None
    try:
        return Pin(due=parse_due(due))
    except ValueError as exc:
        raise ValueError(f"--due: {exc}") from None


def clone_pinned(source: str, limits: Limits, pin: Pin) -> tuple[Path, Pick]:
    """Clone ``source`` (a git URL, or a folder's own ``.git``) with its branch's history and
    check out the commit ``pin`` chooses, detached; (the work tree, what was picked).

    The history comes without file contents (``--filter=blob:none``, where the server
    allows it); checking out fetches those of the picked commit. Every git call has the
    hardened environment and options (no hooks) and shares the clone's time and size budget.
    The caller removes the folder's parent. Raises SourceError.
    """
    if not is_git_url(source):
        if _plain_git_dir(Path(source)) is None:
            raise SourceError(f"{source}: grading by due time or commit needs the submission's "
                              "git history, and this folder has no .git folder of its own "
                              "(or one that links to another repository)")
    target, deadline = _clone_into(source, limits, ["--no-checkout", "--filter=blob:none"])
    try:
        pick = _pick(target / ".git", pin, deadline)
        cmd = ["git", *_SAFE_CONFIG, "--git-dir", str(target / ".git"), "--work-tree",
               str(target), "checkout", "--quiet", "--detach", pick.commit, "--"]
        problem = _bounded(cmd, "checkout", target.parent, limits, deadline,
                           _reader_env(target))
        if problem:
            raise SourceError(f"cannot check out {pick.commit[:12]} of "
                              f"{redact_url(source)}: {problem}")
    except BaseException:
        shutil.rmtree(target.parent, ignore_errors=True)
        raise
    return target, pick


def _pick(git_dir: Path, pin: Pin, deadline: float) -> Pick:
    """The commit ``pin`` names in the clone at ``git_dir``; SourceError when there is none."""
    def left() -> float:
        return deadline - time.monotonic()

    log = _git_out(git_dir, ["rev-list", "--first-parent", "--topo-order",
                             "--format=%H %ct %cI", "HEAD", "--"], left())
    chain = parse_log(log or "")
    if not chain:
        raise SourceError("cannot read the branch's history")
    if pin.due is not None:
        try:
            return pick_due(chain, pin.due)
        except NoCommitInTime as exc:
            raise SourceError(str(exc)) from None
    rev = pin.commit or "HEAD"
    found = _git_out(git_dir, ["rev-parse", "--verify", "--quiet", "--end-of-options",
                               f"{rev}^{{commit}}"], left())
    sha = (found or "").strip()
    index = next((i for i, c in enumerate(chain) if c.sha == sha), None)
    if rev.startswith("-") or index is None:
        raise SourceError(f"commit {rev!r} is not on the graded branch's history")
    return pick_at(chain, index)


def redact_url(source: str) -> str:
    """``source`` without credentials: ``https://TOKEN:x@host/r.git`` -> ``https://host/r.git``
    (an ssh URL keeps its user name, never a password)."""
    parts = urlsplit(source) if "://" in source else None
    if parts is None or "@" not in parts.netloc:
        return source
    userinfo, _, host = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    keep = f"{user}@" if parts.scheme in ("ssh", "git+ssh") and user else ""
    return urlunsplit(parts._replace(netloc=keep + host))


def is_remote_url(source: str) -> bool:
    """A network git URL (https, git, ssh, scp-like ``user@host:path``); ``file://`` and
    paths are local."""
    return bool(_REMOTE.match(source))


def redact_text(text: str) -> str:
    """``text`` with the credentials of every ``scheme://user:secret@host`` URL in it removed."""
    return _CREDENTIALS.sub(r"\1", text)
