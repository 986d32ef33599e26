"""``meshgrade lab up | down | status | apply | delete | dashboard``."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from . import state
from .manifests import ManifestError, load_paths
from .support import KUBECTL

READY_TIMEOUT_S = 60.0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]
               ) -> None:
    lab = sub.add_parser(
        "lab", help="the local mesh lab: real Envoy, a Kubernetes API, emulated workloads",
        description="Run an Istio-like mesh on this machine, built from YAML files.",
        epilog="examples:\n  eval \"$(meshgrade lab up --detach)\"\n"
               "  curl -s http://$GATEWAY_URL/productpage | grep -o '<title>.*</title>'\n"
               "  meshgrade lab apply examples/part1-bookinfo/destination-rule-all.yaml\n"
               "  kubectl get pods\n  meshgrade lab status\n  meshgrade lab down\n\n" + KUBECTL,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    lsub = lab.add_subparsers(dest="lab_command", metavar="ACTION")
    lsub.required = True
    up = lsub.add_parser("up", help="start the lab (the course's state after Quick start), "
                         "then apply FILES in order")
    up.add_argument("files", nargs="*", type=Path, help="YAML files or folders to apply")
    up.add_argument("--no-bookinfo", action="store_true", help="no Bookinfo (a Part 2 app only)")
    up.add_argument("--detach", action="store_true", help="run in the background")
    up.add_argument("--state", help="state folder (default $MESHGRADE_LAB_STATE or per user)")
    up.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    for name, text in (("apply", "apply FILES to the running lab (like kubectl apply -f)"),
                       ("delete", "delete the objects of FILES from the running lab")):
        p = lsub.add_parser(name, help=text)
        p.add_argument("files", nargs="+", type=Path)
        p.add_argument("--state")
    st = lsub.add_parser("status", help="URLs, objects, Envoy config version, API requests")
    st.add_argument("--json", action="store_true")
    st.add_argument("--state")
    down = lsub.add_parser("down", help="stop the running lab")
    down.add_argument("--state")
    dash = lsub.add_parser("dashboard", help="the live mesh graph of the running lab: print "
                           "its URL (127.0.0.1 only)")
    dash.add_argument("--open", action="store_true", help="also open it in a browser")
    dash.add_argument("--state")


def run(args: argparse.Namespace) -> int:
    return {"up": _up, "apply": _apply, "delete": _delete, "status": _status,
            "down": _down, "dashboard": _dashboard}[args.lab_command](args)


def _up(args: argparse.Namespace) -> int:
    folder = state.state_dir(args.state)
    current = state.read(folder)
    if current and state.alive(int(current.get("pid", 0))) and not args.serve:
        print(f"error: a lab is already running (pid {current['pid']}, state {folder}); "
              "`meshgrade lab down` first or use another --state", file=sys.stderr)
        return 2
    if args.detach:
        return _spawn(args, folder)
    return _serve(args, folder)


def _spawn(args: argparse.Namespace, folder: Path) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "state.json").unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "meshgrade", "lab", "up", "--serve", "--state", str(folder),
           *(["--no-bookinfo"] if args.no_bookinfo else []), *map(str, args.files)]
    with open(folder / "lab.log", "wb") as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                start_new_session=True)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        data = state.read(folder)
        if data and data.get("ready"):
            print(_exports(data), end="")
            return 0
        if proc.poll() is not None:
            tail = (folder / "lab.log").read_text("utf-8", "replace")[-2000:]
            print(f"error: the lab did not start:\n{tail}", file=sys.stderr)
            return 3
        time.sleep(0.05)
    proc.terminate()
    print(f"error: the lab was not ready within {READY_TIMEOUT_S:.0f} s (log: "
          f"{folder / 'lab.log'})", file=sys.stderr)
    return 3


def _exports(data: dict[str, Any]) -> str:
    return f"export KUBECONFIG={data['kubeconfig']}\nexport GATEWAY_URL={data['gateway_url']}\n"


def _serve(args: argparse.Namespace, folder: Path) -> int:
    from .lab import Lab  # start-up: the lab

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())
    run_dir = folder / "run"
    shutil.rmtree(run_dir, ignore_errors=True)  # left over by a lab that was killed
    try:
        lab = Lab(bookinfo=not args.no_bookinfo, workdir=run_dir).start(args.files)
    except ManifestError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # startup failures say what failed
        print(f"error: the lab could not start: {exc}", file=sys.stderr)
        return 3
    try:
        print(lab.exports(), end="", flush=True)
        print(f"# dashboard: {lab.start_dashboard()}", file=sys.stderr, flush=True)
        if not args.serve:
            print("# the lab runs until Ctrl-C", file=sys.stderr, flush=True)
        while not stop.is_set():  # status readers see counts at most 0.25 s old
            state.write(folder, {"ready": True, "pid": os.getpid(), **lab.status()})
            stop.wait(0.25)
    finally:
        lab.stop()
        (folder / "state.json").unlink(missing_ok=True)
        shutil.rmtree(run_dir, ignore_errors=True)
    return 0


def _running(args: argparse.Namespace) -> dict[str, Any] | None:
    folder = state.state_dir(args.state)
    data = state.read(folder)
    if not data or not state.alive(int(data.get("pid", 0))):
        print(f"error: no lab is running (state folder {folder}); start one with "
              "`meshgrade lab up --detach`", file=sys.stderr)
        return None
    return data


def _change(args: argparse.Namespace, verb: str) -> int:
    from .client import ApiClient  # start-up: requests

    data = _running(args)
    if data is None:
        return 3
    try:
        objects = load_paths(args.files)
    except ManifestError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    client = ApiClient(Path(data["kubeconfig"]))
    code = 0
    for obj in objects:
        ref = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
        try:
            result = client.apply(obj) if verb == "apply" else client.delete(obj)
            print(f"{ref.lower()} {result}")
        except (ValueError, RuntimeError, OSError) as exc:
            print(f"error: {ref}: {exc}", file=sys.stderr)
            code = 1
    return code


def _apply(args: argparse.Namespace) -> int:
    return _change(args, "apply")


def _delete(args: argparse.Namespace) -> int:
    return _change(args, "delete")


def _status(args: argparse.Namespace) -> int:
    data = _running(args)
    if data is None:
        return 3
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    print(f"lab running, pid {data['pid']}")
    for key in ("gateway_url", "api_url", "kubeconfig", "envoy_admin", "config_version",
                "dashboard_url"):
        print(f"  {key}: {data.get(key)}")
    print("  objects: " + ", ".join(f"{k} {v}" for k, v in data.get("objects", {}).items()))
    print("  API requests: " + (", ".join(f"{k} {v}" for k, v in
                                          data.get("api_requests", {}).items()) or "none"))
    return 0


def _dashboard(args: argparse.Namespace) -> int:
    data = _running(args)
    if data is None:
        return 3
    url = data.get("dashboard_url")
    if not url:
        print("error: this lab serves no dashboard (started by an older meshgrade?); "
              "`meshgrade lab down` and up again", file=sys.stderr)
        return 3
    print(url)
    if args.open:
        import webbrowser  # start-up: webbrowser

        webbrowser.open(url)
    return 0


def _down(args: argparse.Namespace) -> int:
    folder = state.state_dir(args.state)
    data = state.read(folder)
    if not data or not state.alive(int(data.get("pid", 0))):
        print("no lab is running")
        (folder / "state.json").unlink(missing_ok=True)
        return 0
    pid = int(data["pid"])
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while state.alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if state.alive(pid):
        os.kill(pid, signal.SIGKILL)
    print(f"lab stopped (pid {pid})")
    return 0
