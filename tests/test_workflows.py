"""The GitHub Action (action.yml, scripts/action-grade.sh) and the example workflows.

GitHub is not reachable from the test machines, so nothing here runs a workflow: the example
workflows are linted with actionlint (from the test extra), action.yml is checked in Python
(actionlint lints workflows, not action metadata, except through a workflow that uses the
action locally), and the grading script is run locally against an example submission with
fake ``$GITHUB_OUTPUT`` and ``$GITHUB_STEP_SUMMARY`` files.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import EXAMPLES, REPO

ACTION = REPO / "action.yml"
SCRIPT = REPO / "scripts" / "action-grade.sh"
WORKFLOWS = EXAMPLES / "workflows"
WORKFLOW_FILES = sorted(WORKFLOWS.glob("*.yml"))
PLACEHOLDER = "<org>/meshgrade@v1"
VENV_BIN = Path(sys.executable).parent
EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.S)
INPUT_REF = re.compile(r"\binputs\.([A-Za-z0-9_-]+)")
STEP_OUTPUT = re.compile(r"^\s*steps\.([A-Za-z0-9_-]+)\.outputs\.([A-Za-z0-9_-]+)\s*$")
ENV_NAME = re.compile(r"\$\{?(INPUT_[A-Z0-9_]+)")


def load(path: Path) -> dict:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path.name} is not a mapping"
    return data


@pytest.fixture(scope="module")
def action() -> dict:
    return load(ACTION)


def steps_of(action: dict) -> list[dict]:
    steps = action["runs"]["steps"]
    assert isinstance(steps, list) and steps
    return steps


def step_by_id(action: dict, step_id: str) -> dict:
    matches = [s for s in steps_of(action) if s.get("id") == step_id]
    assert len(matches) == 1, f"expected one step with id {step_id!r}"
    return matches[0]


def expressions(value: object) -> list[str]:
    """Every ``${{ ... }}`` body anywhere in a parsed YAML value."""
    if isinstance(value, str):
        return EXPRESSION.findall(value)
    if isinstance(value, dict):
        return [e for k, v in value.items() for e in expressions(k) + expressions(v)]
    if isinstance(value, list):
        return [e for item in value for e in expressions(item)]
    return []


def find_tool(name: str) -> str | None:
    """The tool from this interpreter's environment first, then PATH."""
    candidate = VENV_BIN / name
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    return shutil.which(name)


def actionlint() -> str:
    tool = find_tool("actionlint")
    if tool is None:
        pytest.fail("actionlint is not installed: pip install -e '.[test]'")
    return tool


# --- action.yml, statically ---------------------------------------------------------------


def test_action_is_composite_with_the_pinned_building_blocks(action: dict) -> None:
    assert action["name"] == "meshgrade"
    assert action["runs"]["using"] == "composite"
    uses = {s["uses"]: s for s in steps_of(action) if "uses" in s}
    assert uses["actions/setup-python@v5"]["with"]["python-version"] == "3.12"
    upload = uses["actions/upload-artifact@v4"]
    assert upload["if"] == "always()"
    assert upload["with"]["path"] == "${{ inputs.out }}"


def test_every_run_step_has_a_shell_and_no_expression(action: dict) -> None:
    runs = [s for s in steps_of(action) if "run" in s]
    assert runs
    for step in runs:
        assert step.get("shell") == "bash", step.get("name")
        # Inputs reach scripts through env: only, never spliced into the script text.
        assert "${{" not in step["run"], step.get("name")
    assert not any("${{ inputs." in s["run"] or "${{inputs." in s["run"] for s in runs)


def test_install_step_installs_the_action_checkout(action: dict) -> None:
    install = next(s for s in steps_of(action) if "pip install" in s.get("run", ""))
    assert '"$GITHUB_ACTION_PATH"' in install["run"]
    assert "git+" not in install["run"]


def test_inputs_referenced_exist_and_inputs_declared_are_used(action: dict) -> None:
    declared = set(action["inputs"])
    referenced = {m for e in expressions(action["runs"]) for m in INPUT_REF.findall(e)}
    assert referenced <= declared, f"undeclared inputs: {sorted(referenced - declared)}"
    assert declared <= referenced, f"unused inputs: {sorted(declared - referenced)}"
    assert {"path", "rubric", "mode", "kubeconfig", "trust-kubeconfig", "gateway-url",
            "fail-under", "sign-key", "classroom", "out", "continue-on-failure"} <= declared
    assert action["inputs"]["path"]["default"] == "."
    assert action["inputs"]["rubric"]["default"] == "istio-full"
    assert action["inputs"]["out"]["default"] == "meshgrade-reports"
    assert action["inputs"]["classroom"]["default"] == "false"
    assert action["inputs"]["continue-on-failure"]["default"] == "false"
    assert action["inputs"]["trust-kubeconfig"]["default"] == "false"
    trust = " ".join(action["inputs"]["trust-kubeconfig"]["description"].split())
    for words in ("instructor's own workflow", "minikube", "never for a kubeconfig a student"):
        assert words in trust, words


def test_grade_step_passes_every_input_through_env_to_the_script(action: dict) -> None:
    grade = step_by_id(action, "grade")
    env = grade["env"]
    assert 'bash "$GITHUB_ACTION_PATH/scripts/action-grade.sh"' in grade["run"]
    for name, value in env.items():
        assert re.fullmatch(r"\$\{\{ inputs\.[a-z-]+ \}\}", value), name
    script_reads = set(ENV_NAME.findall(SCRIPT.read_text(encoding="utf-8")))
    assert set(env) == script_reads, "the step's env: and the script's INPUT_* differ"


def test_outputs_map_to_outputs_the_script_writes(action: dict) -> None:
    outputs = action["outputs"]
    assert {"score", "max-score", "gradable", "result"} <= set(outputs)
    step_ids = {s.get("id") for s in steps_of(action)}
    script = SCRIPT.read_text(encoding="utf-8")
    for name, spec in outputs.items():
        match = STEP_OUTPUT.match(EXPRESSION.fullmatch(spec["value"].strip()).group(1))
        assert match, f"output {name} is not a step output"
        step_id, step_output = match.groups()
        assert step_id in step_ids, f"output {name} names a missing step {step_id}"
        assert step_id == "grade"
        assert re.search(rf"(^|[\s'\"]){re.escape(step_output)}=", script), (
            f"scripts/action-grade.sh never writes {step_output}")


def test_script_is_executable_bash() -> None:
    assert SCRIPT.read_text(encoding="utf-8").startswith("#!/usr/bin/env bash\n")
    assert SCRIPT.stat().st_mode & stat.S_IXUSR
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)


# --- the example workflows ------------------------------------------------------------------


def test_example_workflows_exist() -> None:
    assert [p.name for p in WORKFLOW_FILES] == ["classroom.yml", "grade.yml"]


def test_actionlint_finds_nothing_in_the_example_workflows() -> None:
    # shellcheck is an optional extra of actionlint and is not installed by the test extra:
    # it is disabled here for a result that does not depend on the machine (see the next test).
    proc = subprocess.run([actionlint(), "-no-color", "-shellcheck=", *map(str, WORKFLOW_FILES)],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == ""


def test_actionlint_with_shellcheck_finds_nothing() -> None:
    shellcheck = find_tool("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed")
    proc = subprocess.run([actionlint(), "-no-color", f"-shellcheck={shellcheck}",
                           *map(str, WORKFLOW_FILES)], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_shellcheck_finds_nothing_in_the_grading_script() -> None:
    shellcheck = find_tool("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed")
    proc = subprocess.run([shellcheck, str(SCRIPT)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def local_action_repo(tmp_path: Path, extra_with: str = "") -> Path:
    """A git repository holding the action at its root and the example workflows using it as
    ``uses: ./``, so that actionlint checks their inputs and outputs against action.yml."""
    root = tmp_path / "repo"
    (root / ".github" / "workflows").mkdir(parents=True)
    (root / "scripts").mkdir()
    shutil.copy(ACTION, root / "action.yml")
    shutil.copy(SCRIPT, root / "scripts" / SCRIPT.name)
    for path in WORKFLOW_FILES:
        text = path.read_text(encoding="utf-8")
        assert PLACEHOLDER in text, f"{path.name} does not use {PLACEHOLDER}"
        text = text.replace(PLACEHOLDER, "./")
        if extra_with:
            text = text.replace("          classroom: true\n",
                                f"          classroom: true\n{extra_with}", 1)
        (root / ".github" / "workflows" / path.name).write_text(text, encoding="utf-8")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


def test_actionlint_checks_the_workflows_against_the_action(tmp_path: Path) -> None:
    root = local_action_repo(tmp_path)
    proc = subprocess.run([actionlint(), "-no-color", "-shellcheck="], capture_output=True,
                          text=True, cwd=root)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_actionlint_sees_an_undeclared_input_of_the_action(tmp_path: Path) -> None:
    # proves that the previous test really reads action.yml
    root = local_action_repo(tmp_path / "bad", extra_with="          no-such-input: x\n")
    proc = subprocess.run([actionlint(), "-no-color", "-shellcheck="], capture_output=True,
                          text=True, cwd=root)
    assert proc.returncode == 1
    assert '"no-such-input" is not defined in action' in proc.stdout


def meshgrade_steps(workflow: dict) -> list[dict]:
    return [s for job in workflow["jobs"].values() for s in job["steps"]
            if s.get("uses") == PLACEHOLDER]


def test_workflows_use_only_inputs_and_outputs_the_action_declares(action: dict) -> None:
    for path in WORKFLOW_FILES:
        workflow = load(path)
        steps = meshgrade_steps(workflow)
        assert steps, f"{path.name} does not use the action"
        for step in steps:
            assert set(step.get("with", {})) <= set(action["inputs"]), path.name
        grade_ids = {s["id"] for s in steps if "id" in s}
        for body in expressions(workflow):
            for step_id, output in re.findall(r"steps\.([\w-]+)\.outputs\.([\w-]+)", body):
                if step_id in grade_ids:
                    assert output in action["outputs"], f"{path.name}: {output}"


def test_grade_workflow_has_the_lab_and_the_cluster_jobs() -> None:
    workflow = load(WORKFLOWS / "grade.yml")
    assert set(workflow[True]) == {"push", "pull_request"}  # PyYAML reads `on:` as True
    lab, cluster = workflow["jobs"]["grade"], workflow["jobs"]["grade-cluster"]
    (lab_step,) = meshgrade_steps({"jobs": {"grade": lab}})
    assert lab_step["with"] == {"rubric": "istio-full", "mode": "lab", "classroom": True}
    assert any(s.get("uses") == "helm/kind-action@v1" for s in cluster["steps"])
    scripts = "\n".join(s.get("run", "") for s in cluster["steps"])
    for needle in ("ISTIO_VERSION", "istioctl\" install --set profile=demo -y",
                   "istio-injection=enabled", "samples/bookinfo/platform/kube/bookinfo.yaml",
                   "kubectl apply -f \"$file\"", "rollout status", "port-forward",
                   "kind get kubeconfig"):
        assert needle in scripts, needle
    assert cluster["env"]["ISTIO_VERSION"] == "1.24.0"
    assert 'https://istio.io/downloadIstio | ISTIO_VERSION="$ISTIO_VERSION" sh -' in scripts
    (cluster_step,) = meshgrade_steps({"jobs": {"grade-cluster": cluster}})
    assert cluster_step["with"]["mode"] == "cluster"
    assert cluster_step["with"]["gateway-url"] == "127.0.0.1:8080"
    assert cluster_step["with"]["kubeconfig"] == "${{ steps.kind.outputs.kubeconfig }}"


def test_classroom_workflow_feeds_the_grading_reporter() -> None:
    workflow = load(WORKFLOWS / "classroom.yml")
    (job,) = workflow["jobs"].values()
    reporter = next(s for s in job["steps"]
                    if s.get("uses") == "classroom-resources/autograding-grading-reporter@v1")
    assert reporter["env"] == {"MESHGRADE_RESULTS": "${{ steps.grade.outputs.result }}"}
    assert reporter["with"] == {"runners": "meshgrade"}
    (grade,) = meshgrade_steps(workflow)
    assert grade["id"] == "grade" and grade["with"]["classroom"] is True


def test_example_workflows_splice_no_untrusted_text_into_scripts() -> None:
    for path in WORKFLOW_FILES:
        for job in load(path)["jobs"].values():
            for step in job["steps"]:
                assert "${{" not in step.get("run", ""), (path.name, step.get("name"))


# --- the grading script, run locally ----------------------------------------------------------


def script_env(tmp_path: Path, **inputs: str) -> dict[str, str]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GITHUB_", "INPUT_", "RUNNER_", "MESHGRADE"))}
    env["PATH"] = os.pathsep.join([str(VENV_BIN), env.get("PATH", "")])
    output, summary = tmp_path / "github_output", tmp_path / "step_summary.md"
    output.touch()
    summary.touch()
    runner_temp = tmp_path / "runner_temp"
    runner_temp.mkdir(exist_ok=True)
    env.update(GITHUB_ACTIONS="true", GITHUB_OUTPUT=str(output),
               GITHUB_STEP_SUMMARY=str(summary), RUNNER_TEMP=str(runner_temp))
    env.update({f"INPUT_{k.upper()}": v for k, v in inputs.items()})
    return env


def run_script(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT)], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def outputs(env: dict[str, str]) -> dict[str, str]:
    lines = Path(env["GITHUB_OUTPUT"]).read_text(encoding="utf-8").splitlines()
    return dict(line.split("=", 1) for line in lines)


@pytest.mark.slow
def test_script_grades_an_example_and_sets_the_outputs(tmp_path: Path) -> None:
    env = script_env(tmp_path, path=str(EXAMPLES / "part2-app"), rubric="istio-part2",
                     mode="repo", out=str(tmp_path / "reports"))
    proc = run_script(env, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = outputs(env)
    assert set(out) == {"score", "max-score", "gradable", "exit-code"}
    assert out["gradable"] == "true" and out["exit-code"] == "0"
    assert float(out["score"]) == float(out["max-score"]) > 0
    summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text(encoding="utf-8")
    assert summary.startswith("## meshgrade") and "| --- |" in summary
    for name in ("results.json", "junit.xml", "report.html"):
        assert (tmp_path / "reports" / name).is_file(), name
    assert not list((tmp_path / "runner_temp").iterdir()), "temporary files left behind"


@pytest.mark.slow
def test_script_follows_meshgrade_exit_status_unless_continue_on_failure(
        tmp_path: Path) -> None:
    common = {"path": str(EXAMPLES / "broken"), "mode": "repo"}
    env = script_env(tmp_path / "a", out=str(tmp_path / "a" / "reports"), **common)
    proc = run_script(env, tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "::error file=" in proc.stdout
    out = outputs(env)
    assert out["exit-code"] == "1" and out["gradable"] == "true"
    assert float(out["score"]) < float(out["max-score"])

    env = script_env(tmp_path / "b", out=str(tmp_path / "b" / "reports"),
                     continue_on_failure="true", **common)
    proc = run_script(env, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert outputs(env)["exit-code"] == "1"


@pytest.mark.slow
def test_script_writes_the_classroom_result_and_signs(tmp_path: Path) -> None:
    help_text = subprocess.run([str(VENV_BIN / "meshgrade"), "grade", "--help"],
                               capture_output=True, text=True, check=True).stdout
    if "classroom" not in help_text or "--sign-key-file" not in help_text:
        pytest.skip("this meshgrade has no classroom format or --sign-key-file yet")
    env = script_env(tmp_path, path=str(EXAMPLES / "part2-app"), rubric="istio-part2",
                     mode="repo", classroom="true", sign_key="course-secret\n",
                     out=str(tmp_path / "reports"))
    env.update(GITHUB_ACTOR="alice", GITHUB_SERVER_URL="https://github.example",
               GITHUB_REPOSITORY="course/hw-alice")
    proc = run_script(env, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = outputs(env)
    result = json.loads(base64.b64decode(out["result"], validate=True))
    assert result["version"] == 1 and result["status"] == "pass"
    assert result["max_score"] == float(out["max-score"]) and result["tests"]
    results = json.loads((tmp_path / "reports" / "results.json").read_text(encoding="utf-8"))
    assert "signature" in results
    assert not list((tmp_path / "runner_temp").iterdir()), "the key file was left behind"
    assert results["submission"]["student"] == "alice"
    assert results["submission"]["repository"] == "https://github.example/course/hw-alice"
    key = tmp_path / "key"
    key.write_text("course-secret\n")

    def verify(*expected: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(VENV_BIN / "meshgrade"), "verify",
                               str(tmp_path / "reports" / "results.json"),
                               "--sign-key-file", str(key), *expected],
                              capture_output=True, text=True, timeout=60)

    ok = verify("--student", "alice", "--repository", "https://github.example/course/hw-alice")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "course/hw-alice" in ok.stdout and "student: alice" in ok.stdout
    copied = verify("--student", "bob", "--repository", "https://github.example/course/hw-bob")
    assert copied.returncode == 1 and "student differs" in copied.stderr
    assert "repository differs" in copied.stderr


def test_script_rejects_bad_inputs(tmp_path: Path) -> None:
    env = script_env(tmp_path, path=str(EXAMPLES / "part2-app"), classroom="maybe")
    proc = run_script(env, tmp_path)
    assert proc.returncode == 2 and "::error" in proc.stdout
    env = script_env(tmp_path, path=str(EXAMPLES / "part2-app"), mode="kubernetes")
    proc = run_script(env, tmp_path)
    assert proc.returncode == 2 and "::error" in proc.stdout


STUB = r"""#!/usr/bin/env bash
# Records its arguments, the modes and contents of the files it is handed and its
# environment, writes the reports the action reads, and exits with $STUB_RC.
log="$STUB_LOG"
printf '%s\n' "$@" >"$log.args"
env >"$log.env"
out=""
prev=""
for arg in "$@"; do
    case "$prev" in
        --out) out="$arg" ;;
        --kubeconfig | --sign-key-file)
            stat -c '%a' "$arg" >>"$log.modes"
            cat "$arg" >>"$log.contents" ;;
    esac
    prev="$arg"
done
mkdir -p "$out"
printf '{"gradable": false, "score": 0.0, "max_score": 46.0}\n' >"$out/results.json"
printf 'eyJ2ZXJzaW9uIjox\nfQ==\n' >"$out/classroom.b64"
exit "${STUB_RC:-0}"
"""


def test_script_hands_secrets_over_as_private_files(tmp_path: Path) -> None:
    stub = tmp_path / "meshgrade-stub"
    stub.write_text(STUB, encoding="utf-8")
    stub.chmod(0o755)
    env = script_env(tmp_path, kubeconfig="apiVersion: v1\nkind: Config\n",
                     sign_key="-----KEY-----", classroom="true", gateway_url="127.0.0.1:8080",
                     fail_under="80%", out=str(tmp_path / "reports"))
    env.update(MESHGRADE=str(stub), STUB_LOG=str(tmp_path / "stub"), STUB_RC="3")
    proc = run_script(env, tmp_path)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    args = (tmp_path / "stub.args").read_text(encoding="utf-8").splitlines()
    assert args[:2] == ["grade", "."]
    pairs = dict(zip(args[2:], args[3:], strict=False))
    assert pairs["--mode"] == "cluster"  # a kubeconfig and no mode: cluster
    assert pairs["--rubric"] == "istio-full"
    assert pairs["--gateway-url"] == "127.0.0.1:8080"
    assert pairs["--fail-under"] == "80%"
    assert [args[i + 1] for i, a in enumerate(args) if a == "--format"] == [
        "json", "junit", "html", "github", "classroom"]
    assert "--sign-key-file" in args and "--kubeconfig" in args
    assert (tmp_path / "stub.modes").read_text().split() == ["600", "600"]
    assert (tmp_path / "stub.contents").read_text() == (
        "apiVersion: v1\nkind: Config\n-----KEY-----")
    child_env = (tmp_path / "stub.env").read_text(encoding="utf-8")
    assert "INPUT_KUBECONFIG" not in child_env and "INPUT_SIGN_KEY" not in child_env
    assert not Path(pairs["--kubeconfig"]).exists(), "the kubeconfig file was not removed"
    assert outputs(env) == {"score": "0", "max-score": "46", "gradable": "false",
                            "exit-code": "3", "result": "eyJ2ZXJzaW9uIjoxfQ=="}


def test_script_adds_optional_flags_only_when_asked(tmp_path: Path) -> None:
    stub = tmp_path / "meshgrade-stub"
    stub.write_text(STUB, encoding="utf-8")
    stub.chmod(0o755)
    env = script_env(tmp_path, out=str(tmp_path / "reports"))
    env.update(MESHGRADE=str(stub), STUB_LOG=str(tmp_path / "stub"))
    proc = run_script(env, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    args = (tmp_path / "stub.args").read_text(encoding="utf-8").splitlines()
    assert args[args.index("--mode") + 1] == "lab"
    for flag in ("--kubeconfig", "--trust-kubeconfig", "--sign-key-file", "--gateway-url",
                 "--fail-under", "classroom", "--student", "--repository"):
        assert flag not in args
    assert "result" not in outputs(env)


def _run_with_trust(tmp_path: Path, value: str) -> subprocess.CompletedProcess[str]:
    """The Action's script with a kubeconfig and ``trust-kubeconfig: value``, on the stub."""
    stub = tmp_path / "meshgrade-stub"
    stub.write_text(STUB, encoding="utf-8")
    stub.chmod(0o755)
    env = script_env(tmp_path, kubeconfig="apiVersion: v1\nkind: Config\n",
                     trust_kubeconfig=value, out=str(tmp_path / "reports"))
    env.update(MESHGRADE=str(stub), STUB_LOG=str(tmp_path / "stub"))
    return run_script(env, tmp_path)


@pytest.mark.parametrize(("value", "passed"), [
    ("true", True), ("TRUE", True), ("True", True), ("false", False), ("False", False),
    ("", False),
])
def test_script_passes_trust_kubeconfig_only_for_true(tmp_path: Path, value: str,
                                                      passed: bool) -> None:
    proc = _run_with_trust(tmp_path, value)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    args = (tmp_path / "stub.args").read_text(encoding="utf-8").splitlines()
    assert args.count("--trust-kubeconfig") == (1 if passed else 0)
    assert "--kubeconfig" in args


@pytest.mark.parametrize("value", ["yes", "1", "on", "true ", "truee", "maybe"])
def test_script_refuses_other_words_for_trust_kubeconfig(tmp_path: Path, value: str) -> None:
    # turning a defence off takes the word true itself: "yes" and "1" are refused, not taken
    # for true (as the other true/false inputs would) nor silently for false
    proc = _run_with_trust(tmp_path, value)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "::error title=meshgrade::input 'trust-kubeconfig' must be true or false" in proc.stdout
    assert not (tmp_path / "stub.args").exists(), "meshgrade ran"


@pytest.mark.parametrize(("path", "repository"), [
    (".", "https://github.example/course/hw-alice"),
    ("https://github.example/course/other.git", None),  # a URL is its own repository
])
def test_script_records_the_actor_and_the_repository(tmp_path: Path, path: str,
                                                     repository: str | None) -> None:
    stub = tmp_path / "meshgrade-stub"
    stub.write_text(STUB, encoding="utf-8")
    stub.chmod(0o755)
    env = script_env(tmp_path, path=path, out=str(tmp_path / "reports"))
    env.update(MESHGRADE=str(stub), STUB_LOG=str(tmp_path / "stub"), GITHUB_ACTOR="alice",
               GITHUB_SERVER_URL="https://github.example", GITHUB_REPOSITORY="course/hw-alice")
    proc = run_script(env, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    args = (tmp_path / "stub.args").read_text(encoding="utf-8").splitlines()
    assert args[args.index("--student") + 1] == "alice"
    found = args[args.index("--repository") + 1] if "--repository" in args else None
    assert found == repository
