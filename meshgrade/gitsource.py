"""Fetching a submission from git: a shallow, hook-less, bounded clone."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

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


def clone(url: str, limits: Limits, ref: str | None = None) -> tuple[Path, str | None]:
    """Clone ``url`` shallow into a new temporary folder; return (folder, commit).

    The caller removes the folder. Raises SourceError with what went wrong.
    """
    if url.startswith("-"):
        raise SourceError(f"refusing a git URL that starts with '-': {redact_url(url)!r}")
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
    try:
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
    except BaseException:  # interrupted: stop git and remove what it wrote
        proc.kill()
        proc.wait()
        shutil.rmtree(dest, ignore_errors=True)
        raise
    stderr = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    if not reason and proc.returncode == 0 and _du(dest) > limits.clone_max_bytes:
        reason = f"the repository is larger than {limits.clone_max_bytes / 2**20:g} MiB"
    if reason or proc.returncode != 0:
        shutil.rmtree(dest, ignore_errors=True)
        detail = reason or redact_text(stderr.strip()) or "git failed"
        raise SourceError(f"cannot clone {redact_url(url)}: {detail}")
    return target, read_head(target)


def read_head(folder: Path) -> str | None:
    """The commit checked out in ``folder``, asked of git itself, or None.

    A submission's ``.git`` is data: it must be a real folder inside ``folder`` (a ``.git``
    file or link naming another place is not followed), and git runs with the hardened
    environment, its answer kept only when it is a full object name.
    """
    git_dir = folder / ".git"
    try:
        if git_dir.is_symlink() or not git_dir.is_dir():
            return None
        for pointer in ("commondir", "objects/info/alternates"):  # links to other repos
            if os.path.lexists(git_dir / pointer):
                return None
    except OSError:
        return None
    cmd = ["git", "--no-pager", *_SAFE_CONFIG, "--git-dir", str(git_dir.absolute()),
           "rev-parse", "--verify", "--quiet", "--end-of-options", "HEAD"]
    env = {**_git_env(), "GIT_CEILING_DIRECTORIES": str(folder.absolute().parent),
           "GIT_NO_REPLACE_OBJECTS": "1", "GIT_OPTIONAL_LOCKS": "0"}
    try:
        proc = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=HEAD_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    head = proc.stdout[:200].decode("ascii", "replace").strip()
    return head if proc.returncode == 0 and _OBJECT_NAME.fullmatch(head) else None


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
