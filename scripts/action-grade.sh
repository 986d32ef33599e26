#!/usr/bin/env bash
# The grading step of the meshgrade GitHub Action (action.yml at the repository root).
#
# Inputs arrive as environment variables, never as text spliced into this script:
#   INPUT_PATH                 submission folder or git URL (default .)
#   INPUT_RUBRIC               rubric name or file (default istio-full)
#   INPUT_MODE                 repo, lab, cluster or auto; empty: cluster when
#                              INPUT_KUBECONFIG is set, else lab
#   INPUT_KUBECONFIG           kubeconfig CONTENT (written to a 0600 temp file)
#   INPUT_TRUST_KUBECONFIG     true/false: pass --trust-kubeconfig (only for exactly "true", in
#                              any case; "yes" or "1" are refused, not taken for true)
#   INPUT_GATEWAY_URL          ingress gateway address (cluster mode)
#   INPUT_FAIL_UNDER           points, or N% of the maximum
#   INPUT_SIGN_KEY             signing key CONTENT (written to a 0600 temp file)
#   INPUT_CLASSROOM            true/false: also write GitHub Classroom's reporter output
#   INPUT_OUT                  report folder (default meshgrade-reports)
#   INPUT_CONTINUE_ON_FAILURE  true/false: exit 0 when checks failed or nothing was gradable
#   MESHGRADE                  the meshgrade command (default: meshgrade on PATH)
#   MESHGRADE_PYTHON           the Python that reads results.json (default: python3)
#
# From the runner's own variables (set by GitHub, not inputs), signed into results.json:
#   GITHUB_ACTOR               --student
#   GITHUB_SERVER_URL, GITHUB_REPOSITORY
#                              --repository URL (unless the path input is a git URL, which
#                              is its own repository)
#
# Writes score, max-score, gradable, exit-code (and result when INPUT_CLASSROOM is true) to
# $GITHUB_OUTPUT. The `github` report format prints the annotations and appends the Markdown
# summary to $GITHUB_STEP_SUMMARY itself.
#
# Exit status: meshgrade's (0 passed, 1 checks failed, 3 not gradable), or 0 for 1 and 3 when
# INPUT_CONTINUE_ON_FAILURE is true. Bad inputs and bad usage (2) always fail.
set -euo pipefail

fail_usage() {
    echo "::error title=meshgrade::$*"
    exit 2
}

bool_input() {  # NAME VALUE VARIABLE: sets VARIABLE to true or false
    case "$(printf '%s' "$2" | tr '[:upper:]' '[:lower:]')" in
        true | yes | 1) printf -v "$3" '%s' true ;;
        false | no | 0 | "") printf -v "$3" '%s' false ;;
        *) fail_usage "input '$1' must be true or false, got '$2'" ;;
    esac
}

submission="${INPUT_PATH:-.}"
rubric="${INPUT_RUBRIC:-istio-full}"
out="${INPUT_OUT:-meshgrade-reports}"
mode="${INPUT_MODE:-}"
classroom=false
continue_on_failure=false
bool_input classroom "${INPUT_CLASSROOM:-false}" classroom
bool_input continue-on-failure "${INPUT_CONTINUE_ON_FAILURE:-false}" continue_on_failure
# Turning a defence off takes the word true itself, not whatever else reads as yes.
case "$(printf '%s' "${INPUT_TRUST_KUBECONFIG:-false}" | tr '[:upper:]' '[:lower:]')" in
    true) trust_kubeconfig=true ;;
    false | "") trust_kubeconfig=false ;;
    *) fail_usage "input 'trust-kubeconfig' must be true or false, got '${INPUT_TRUST_KUBECONFIG}'" ;;
esac
meshgrade_cmd="${MESHGRADE:-meshgrade}"
python_cmd="${MESHGRADE_PYTHON:-python3}"
output_file="${GITHUB_OUTPUT:-/dev/null}"

if [ -z "$mode" ]; then
    if [ -n "${INPUT_KUBECONFIG:-}" ]; then mode=cluster; else mode=lab; fi
fi
case "$mode" in
    auto | repo | lab | cluster) ;;
    *) fail_usage "input 'mode' must be repo, lab, cluster or auto, got '$mode'" ;;
esac

# Secrets go to private temporary files, removed on exit, and leave the environment before
# meshgrade starts.
secret_dir="$(mktemp -d "${RUNNER_TEMP:-${TMPDIR:-/tmp}}/meshgrade.XXXXXX")"
chmod 700 "$secret_dir"
trap 'rm -rf -- "$secret_dir"' EXIT

write_secret() {  # FILE CONTENT: the content exactly as given
    (umask 077 && printf '%s' "$2" >"$1")
    chmod 600 "$1"
}

args=(grade "$submission" --rubric "$rubric" --mode "$mode" --out "$out"
      --format json --format junit --format html --format github)

if [ -n "${INPUT_KUBECONFIG:-}" ]; then
    write_secret "$secret_dir/kubeconfig" "$INPUT_KUBECONFIG"
    args+=(--kubeconfig "$secret_dir/kubeconfig")
fi
if [ "$trust_kubeconfig" = true ]; then
    args+=(--trust-kubeconfig)
fi
if [ -n "${INPUT_SIGN_KEY:-}" ]; then
    write_secret "$secret_dir/sign-key" "$INPUT_SIGN_KEY"
    args+=(--sign-key-file "$secret_dir/sign-key")
fi
unset INPUT_KUBECONFIG INPUT_SIGN_KEY

if [ -n "${GITHUB_ACTOR:-}" ]; then
    args+=(--student "$GITHUB_ACTOR")
fi
case "$submission" in
    *://* | *@*:*) ;;  # a git URL: meshgrade records the URL itself
    *)
        if [ -n "${GITHUB_REPOSITORY:-}" ]; then
            args+=(--repository "${GITHUB_SERVER_URL:-https://github.com}/$GITHUB_REPOSITORY")
        fi
        ;;
esac
if [ -n "${INPUT_GATEWAY_URL:-}" ]; then
    args+=(--gateway-url "$INPUT_GATEWAY_URL")
fi
if [ -n "${INPUT_FAIL_UNDER:-}" ]; then
    args+=(--fail-under "$INPUT_FAIL_UNDER")
fi
if [ "$classroom" = true ]; then
    args+=(--format classroom)
fi

echo "meshgrade: grading '$submission' with rubric '$rubric' in $mode mode"
rc=0
"$meshgrade_cmd" "${args[@]}" || rc=$?

# Outputs, also after a failed or ungradable run (the reports are written in every case).
"$python_cmd" - "$out/results.json" "$output_file" <<'PY'
import json
import sys

results_path, output_path = sys.argv[1], sys.argv[2]


def number(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return ""
    return str(int(value)) if float(value).is_integer() else str(value)


try:
    with open(results_path, encoding="utf-8") as handle:
        results = json.load(handle)
except (OSError, ValueError) as exc:
    print(f"::warning title=meshgrade::no readable {results_path}: {exc}")
    results = {}
if not isinstance(results, dict):
    results = {}
with open(output_path, "a", encoding="utf-8") as handle:
    handle.write(f"score={number(results.get('score'))}\n")
    handle.write(f"max-score={number(results.get('max_score'))}\n")
    handle.write(f"gradable={'true' if results.get('gradable') is True else 'false'}\n")
PY
echo "exit-code=$rc" >>"$output_file"

if [ "$classroom" = true ]; then
    if [ -s "$out/classroom.b64" ]; then
        printf 'result=%s\n' "$(tr -d ' \t\r\n' <"$out/classroom.b64")" >>"$output_file"
    else
        echo "::warning title=meshgrade::classroom output requested but $out/classroom.b64 was not written"
        echo "result=" >>"$output_file"
    fi
fi

case "$rc" in
    0) ;;
    1 | 3)
        if [ "$continue_on_failure" = true ]; then
            echo "meshgrade exited with $rc; continuing (continue-on-failure)"
            rc=0
        fi
        ;;
esac
exit "$rc"
