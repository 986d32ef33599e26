"""A small POSIX shell and the commands a pod's image has, for ``kubectl exec``.

Enough of ``sh`` for what the Istio docs and students run in a pod: pipelines, ``&&``,
``||``, ``;``, ``for``/``while``/``if``, ``$VAR``, ``$(...)``, ``$((...))``, quotes and
redirections; and the commands ``curl`` (see :mod:`meshgrade.lab.curl`), ``cat``, ``echo``,
``printf``, ``env``, ``printenv``, ``hostname``, ``grep``, ``head``, ``tail``, ``wc``,
``sort``, ``uniq``, ``cut``, ``tr``, ``sed`` (``s///``), ``seq``, ``sleep``, ``date``,
``test``, ``ls``, ``true``, ``false``. Anything else is "not found", as in a pod without it:
the shell says so (dash: ``sh: 1: foo: not found``; busybox: ``sh: foo: not found``) with
exit code 127."""

from __future__ import annotations

import ast
import operator
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .curl import Curl, Network

Write = Callable[[bytes], None]
SHELLS = ("sh", "bash", "ash", "dash")
_OPS = ("&&", "||", ";;", ">>", "2>&1", "&>", "2>", ">&", "|", ";", "&", "(", ")", "<", ">",
        "\n")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass
class Pod:
    """What a command in a container sees: its host name, environment, files (kept for the
    pod's life), network and image flavour."""

    hostname: str
    env: dict[str, str]
    files: dict[str, bytes]
    net: Network
    busybox: bool = False
    curl_version: str = "8.16.0"
    tty: bool = False
    sleep: Callable[[float], None] = time.sleep


class ShellExit(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class Syntax(Exception):
    """A script the shell cannot parse; the message is the shell's."""


# -- words and tokens ------------------------------------------------------------------------

def _scan_nested(text: str, i: int, open_: str, close: str) -> int:
    """Index just past the ``close`` matching the ``open_`` at ``i`` (quotes respected)."""
    depth, j = 0, i
    while j < len(text):
        ch = text[j]
        if ch == "\\":
            j += 2
            continue
        if ch == "'":
            j = text.index("'", j + 1) + 1 if "'" in text[j + 1:] else len(text)
            continue
        if ch == '"':
            j = _scan_dquote(text, j)
            continue
        if text.startswith(open_, j):
            depth += 1
            j += len(open_)
            continue
        if text.startswith(close, j):
            depth -= 1
            j += len(close)
            if depth == 0:
                return j
            continue
        j += 1
    raise Syntax(f"Syntax error: end of file unexpected (expecting \"{close}\")")


def _scan_dquote(text: str, i: int) -> int:
    j = i + 1
    while j < len(text):
        if text[j] == "\\":
            j += 2
        elif text[j] == '"':
            return j + 1
        elif text.startswith("$(", j):
            j = _scan_nested(text, j + 1, "(", ")")
        else:
            j += 1
    raise Syntax('Syntax error: Unterminated quoted string')


def tokenize(text: str) -> list[tuple[str, str]]:
    """("w", raw word) and ("op", operator) tokens; words keep their quotes."""
    out: list[tuple[str, str]] = []
    i, word = 0, ""
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            if text[i + 1] == "\n":
                i += 2
                continue
            word += text[i:i + 2]
            i += 2
        elif ch == "'":
            end = text.find("'", i + 1)
            if end < 0:
                raise Syntax("Syntax error: Unterminated quoted string")
            word += text[i:end + 1]
            i = end + 1
        elif ch == '"':
            end = _scan_dquote(text, i)
            word += text[i:end]
            i = end
        elif text.startswith("$((", i):
            end = _scan_nested(text, i + 1, "(", ")")
            word += text[i:end]
            i = end
        elif text.startswith("$(", i):
            end = _scan_nested(text, i + 1, "(", ")")
            word += text[i:end]
            i = end
        elif ch == "`":
            end = text.find("`", i + 1)
            if end < 0:
                raise Syntax("Syntax error: EOF in backquote substitution")
            word += text[i:end + 1]
            i = end + 1
        elif ch == "#" and not word:
            while i < len(text) and text[i] != "\n":
                i += 1
        elif ch in " \t":
            if word:
                out.append(("w", word))
                word = ""
            i += 1
        else:
            op = next((o for o in _OPS if text.startswith(o, i)), None)
            if op is None:
                word += ch
                i += 1
                continue
            if op in ("2>", "2>&1") and word:  # "a2>b": the 2 is part of a word
                word += ch
                i += 1
                continue
            if word:
                out.append(("w", word))
                word = ""
            out.append(("op", op))
            i += len(op)
    if word:
        out.append(("w", word))
    return out


# -- syntax tree -----------------------------------------------------------------------------

@dataclass
class Simple:
    words: list[str]
    assigns: list[tuple[str, str]] = field(default_factory=list)
    redirs: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Pipeline:
    commands: list[Any]
    negate: bool = False


@dataclass
class AndOr:
    first: Any
    rest: list[tuple[str, Any]]


@dataclass
class Seq:
    items: list[Any]


@dataclass
class For:
    name: str
    words: list[str]
    body: Any


@dataclass
class While:
    cond: Any
    body: Any
    until: bool = False


@dataclass
class If:
    branches: list[tuple[Any, Any]]
    otherwise: Any | None


@dataclass
class Group:
    body: Any


_KEYWORDS = {"do", "done", "then", "fi", "elif", "else", "in", "}", "esac"}


class Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.t, self.i = tokens, 0

    def peek(self) -> tuple[str, str] | None:
        return self.t[self.i] if self.i < len(self.t) else None

    def take(self) -> tuple[str, str]:
        tok = self.t[self.i]
        self.i += 1
        return tok

    def word_is(self, value: str) -> bool:
        tok = self.peek()
        return tok is not None and tok == ("w", value)

    def expect(self, value: str) -> None:
        self.skip_newlines()
        tok = self.peek()
        if tok is None or tok[1] != value:
            got = "end of file" if tok is None else f'"{tok[1]}"'
            raise Syntax(f"Syntax error: {got} unexpected (expecting \"{value}\")")
        self.take()

    def skip_newlines(self) -> None:
        while self.peek() in (("op", "\n"), ("op", ";")):
            self.take()

    def parse(self) -> Seq:
        seq = self.list_(())
        if self.peek() is not None:
            raise Syntax(f'Syntax error: "{self.peek()[1]}" unexpected')  # type: ignore[index]
        return seq

    def list_(self, stops: tuple[str, ...]) -> Seq:
        items: list[Any] = []
        while True:
            self.skip_newlines()
            tok = self.peek()
            if tok is None or (tok[0] == "w" and tok[1] in stops) or tok == ("op", ")"):
                return Seq(items)
            items.append(self.and_or())
            tok = self.peek()
            if tok is not None and tok[0] == "op" and tok[1] in (";", "&", "\n"):
                self.take()

    def and_or(self) -> AndOr:
        first, rest = self.pipeline(), []
        while self.peek() in (("op", "&&"), ("op", "||")):
            op = self.take()[1]
            self.skip_newlines()
            rest.append((op, self.pipeline()))
        return AndOr(first, rest)

    def pipeline(self) -> Pipeline:
        negate = False
        if self.word_is("!"):
            self.take()
            negate = True
        commands = [self.command()]
        while self.peek() == ("op", "|"):
            self.take()
            self.skip_newlines()
            commands.append(self.command())
        return Pipeline(commands, negate)

    def command(self) -> Any:
        tok = self.peek()
        if tok is None:
            raise Syntax("Syntax error: end of file unexpected")
        if tok == ("op", "("):
            self.take()
            body = self.list_(())
            self.expect(")")
            return Group(body)
        if tok[0] == "w":
            if tok[1] == "{":
                self.take()
                body = self.list_(("}",))
                self.expect("}")
                return Group(body)
            if tok[1] == "for":
                return self.for_()
            if tok[1] in ("while", "until"):
                self.take()
                cond = self.list_(("do",))
                self.expect("do")
                body = self.list_(("done",))
                self.expect("done")
                return While(cond, body, tok[1] == "until")
            if tok[1] == "if":
                return self.if_()
            if tok[1] in _KEYWORDS:
                raise Syntax(f'Syntax error: "{tok[1]}" unexpected')
        return self.simple()

    def for_(self) -> For:
        self.take()
        name = self.take()[1]
        words: list[str] = []
        if self.word_is("in"):
            self.take()
            while (tok := self.peek()) is not None and tok[0] == "w":
                words.append(self.take()[1])
        else:
            words = ['"$@"']
        self.expect("do")
        body = self.list_(("done",))
        self.expect("done")
        return For(name, words, body)

    def if_(self) -> If:
        self.take()
        branches, otherwise = [], None
        while True:
            cond = self.list_(("then",))
            self.expect("then")
            body = self.list_(("elif", "else", "fi"))
            branches.append((cond, body))
            self.skip_newlines()
            tok = self.take() if self.peek() else ("w", "")
            if tok[1] == "elif":
                continue
            if tok[1] == "else":
                otherwise = self.list_(("fi",))
                self.expect("fi")
            elif tok[1] != "fi":
                raise Syntax('Syntax error: end of file unexpected (expecting "fi")')
            return If(branches, otherwise)

    def simple(self) -> Simple:
        node = Simple([])
        while (tok := self.peek()) is not None:
            kind, value = tok
            if kind == "op" and value in (">", ">>", "<", "2>", "&>", ">&"):
                self.take()
                target = self.peek()
                if target is None or target[0] != "w":
                    raise Syntax("Syntax error: newline unexpected")
                node.redirs.append((value, self.take()[1]))
            elif kind == "op" and value == "2>&1":
                self.take()
                node.redirs.append(("2>&1", ""))
            elif kind == "w" and not node.words and "=" in value and _NAME.fullmatch(
                    value.split("=", 1)[0]):
                self.take()
                node.assigns.append(tuple(value.split("=", 1)))  # type: ignore[arg-type]
            elif kind == "w":
                if not node.words and value in _KEYWORDS:
                    break  # a reserved word ends the command only in first position
                node.words.append(self.take()[1])
            else:
                break
        if not node.words and not node.assigns and not node.redirs:
            tok = self.peek()
            raise Syntax(f'Syntax error: "{tok[1] if tok else "end of file"}" unexpected')
        return node


# -- arithmetic ------------------------------------------------------------------------------

_ARITH = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
          ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Lt: operator.lt,
          ast.Gt: operator.gt, ast.LtE: operator.le, ast.GtE: operator.ge, ast.Eq: operator.eq,
          ast.NotEq: operator.ne}


def arithmetic(expr: str, variables: dict[str, str]) -> int:
    """$((expr)): integers, + - * / % and comparisons, variables by name."""
    text = re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", r"\1", expr).replace("/", "//")

    def ev(node: ast.AST) -> int:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.Name):
            try:
                return int(variables.get(node.id, "0") or 0)
            except ValueError:
                return 0
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -ev(node.operand)
        if isinstance(node, ast.BinOp) and type(node.op) in _ARITH:
            return int(_ARITH[type(node.op)](ev(node.left), ev(node.right)))
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _ARITH:
            return int(_ARITH[type(node.ops[0])](ev(node.left), ev(node.comparators[0])))
        raise Syntax(f"arithmetic expression: expecting primary: \"{expr}\"")

    try:
        return ev(ast.parse(text.strip() or "0", mode="eval"))
    except (SyntaxError, ZeroDivisionError):
        raise Syntax(f"arithmetic expression: expecting primary: \"{expr}\"") from None


# -- the shell -------------------------------------------------------------------------------

def _bre(pattern: str) -> str:
    """A POSIX basic regular expression as a Python one."""
    out, i = "", 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            out += nxt if nxt in "(){}|+?" else ch + nxt
            i += 2
            continue
        out += "\\" + ch if ch in "(){}|+?" else ch
        i += 1
    return out


class Shell:
    """Runs scripts and commands for one exec in one container."""

    def __init__(self, pod: Pod, name: str = "sh", stdin: Callable[[], bytes] | None = None
                 ) -> None:
        self.pod, self.name = pod, name
        self.vars: dict[str, str] = dict(pod.env)
        self.status = 0
        self.line = 1
        self.args: list[str] = []
        self.exited = False  # an `exit` ended the script
        self._stdin = stdin or (lambda: b"")

    # -- entry points ----------------------------------------------------------------------
    def exec(self, argv: list[str], out: Write, err: Write, stdin: bytes = b"") -> int:
        """``kubectl exec POD -- argv...``: no shell unless argv starts one."""
        name = argv[0].rsplit("/", 1)[-1]
        if name in SHELLS and (name != "bash" or not self.pod.busybox) \
                or name in self.commands():
            return self.command(argv, stdin, out, err)
        err((f'OCI runtime exec failed: exec failed: unable to start container process: '
             f'exec: "{argv[0]}": executable file not found in $PATH: unknown\n').encode())
        return 127

    def script(self, text: str, stdin: bytes, out: Write, err: Write) -> int:
        try:
            tree = Parser(tokenize(text)).parse()
        except Syntax as exc:
            err(self._message(str(exc)).encode())
            return 2
        try:
            return self.run(tree, stdin, out, err)
        except ShellExit as done:
            self.exited = True
            return done.code

    def _message(self, text: str) -> str:
        if self.name == "bash":
            return f"bash: line {self.line}: {text}\n"
        where = "" if self.pod.busybox else f" {self.line}:"
        return f"{self.name}:{where} {text}\n"

    # -- evaluation ------------------------------------------------------------------------
    def run(self, node: Any, stdin: bytes, out: Write, err: Write) -> int:
        if isinstance(node, Seq):
            status = 0
            for item in node.items:
                status = self.run(item, stdin, out, err)
            return status
        if isinstance(node, AndOr):
            status = self.run(node.first, stdin, out, err)
            for op, pipe in node.rest:
                if (op == "&&") == (status == 0):
                    status = self.run(pipe, stdin, out, err)
            return status
        if isinstance(node, Pipeline):
            data = stdin
            for i, cmd in enumerate(node.commands):
                if i == len(node.commands) - 1:
                    status = self.run(cmd, data, out, err)
                else:
                    buffer = bytearray()
                    self.run(cmd, data, buffer.extend, err)
                    data = bytes(buffer)
            self.status = int(not status) if node.negate else status
            return self.status
        if isinstance(node, Group):
            return self.run(node.body, stdin, out, err)
        if isinstance(node, For):
            status = 0
            for value in [v for w in node.words for v in self.expand(w)]:
                self.vars[node.name] = value
                status = self.run(node.body, stdin, out, err)
            return status
        if isinstance(node, While):
            status = 0
            while (self.run(node.cond, stdin, out, err) == 0) != node.until:
                status = self.run(node.body, stdin, out, err)
            return status
        if isinstance(node, If):
            for cond, body in node.branches:
                if self.run(cond, stdin, out, err) == 0:
                    return self.run(body, stdin, out, err)
            return self.run(node.otherwise, stdin, out, err) if node.otherwise else 0
        return self.simple(node, stdin, out, err)

    def simple(self, node: Simple, stdin: bytes, out: Write, err: Write) -> int:
        try:
            argv = [v for w in node.words for v in self.expand(w)]
            assigns = {k: " ".join(self.expand(v, split=False)) for k, v in node.assigns}
        except Syntax as exc:
            err(self._message(str(exc)).encode())
            self.status = 2
            return 2
        if not argv:
            self.vars.update(assigns)
            self.status = 0
            return 0
        files: dict[str, tuple[str, bytearray]] = {}
        to_out, to_err = out, err
        for op, raw in node.redirs:
            target = " ".join(self.expand(raw, split=False)) if raw else ""
            if op == "2>&1":
                to_err = to_out
                continue
            if op == "<":
                if target not in self.pod.files and target != "/dev/null":
                    err(self._message(f"cannot open {target}: No such file").encode())
                    return 2
                stdin = self.pod.files.get(target, b"")
                continue
            sink: Write
            if target == "/dev/null":
                def sink(_: bytes) -> None:
                    return None
            else:
                buffer = bytearray(self.pod.files.get(target, b"") if op == ">>" else b"")
                files[target] = (op, buffer)
                sink = buffer.extend
            if op in (">", ">>", ">&"):
                to_out = sink
            elif op == "2>":
                to_err = sink
            elif op == "&>":
                to_out = to_err = sink
        saved = dict(self.vars)
        self.vars.update(assigns)
        try:
            status = self.command(argv, stdin, to_out, to_err)
        finally:
            if assigns:
                self.vars = {**saved, **{k: v for k, v in self.vars.items() if k not in assigns}}
        for target, (_, buffer) in files.items():
            self.pod.files[target] = bytes(buffer)
        self.status = status
        return status

    def expand(self, raw: str, split: bool = True) -> list[str]:
        """A word after parameter, command and arithmetic expansion, quote removal and (for
        unquoted expansions) field splitting."""
        fields: list[str] = []
        cur, have, i = "", False, 0

        def emit_split(text: str) -> None:
            nonlocal cur, have
            if not split:
                cur += text
                return
            parts = re.split(r"[ \t\n]+", text)
            for n, part in enumerate(parts):
                if n > 0:
                    if have or cur:
                        fields.append(cur)
                    cur, have = "", False
                cur += part
            if text and not parts[-1]:
                pass

        while i < len(raw):
            ch = raw[i]
            if ch == "\\" and i + 1 < len(raw):
                cur += raw[i + 1]
                have, i = True, i + 2
            elif ch == "'":
                end = raw.index("'", i + 1)
                cur += raw[i + 1:end]
                have, i = True, end + 1
            elif ch == '"':
                end = _scan_dquote(raw, i)
                cur += self._dquote(raw[i + 1:end - 1])
                have, i = True, end
            elif ch == "$" or ch == "`":
                text, i = self._dollar(raw, i)
                emit_split(text)
            else:
                cur += ch
                i += 1
        if cur or have:
            fields.append(cur)
        return fields

    def _dquote(self, inner: str) -> str:
        out, i = "", 0
        while i < len(inner):
            ch = inner[i]
            if ch == "\\" and i + 1 < len(inner) and inner[i + 1] in '$`"\\\n':
                out += inner[i + 1]
                i += 2
            elif ch in "$`":
                text, i = self._dollar(inner, i)
                out += text
            else:
                out += ch
                i += 1
        return out

    def _dollar(self, raw: str, i: int) -> tuple[str, int]:
        if raw[i] == "`":
            end = raw.index("`", i + 1)
            return self._substitute(raw[i + 1:end]), end + 1
        if raw.startswith("$((", i):
            end = _scan_nested(raw, i + 1, "(", ")")
            return str(arithmetic(raw[i + 3:end - 2], self.vars)), end
        if raw.startswith("$(", i):
            end = _scan_nested(raw, i + 1, "(", ")")
            return self._substitute(raw[i + 2:end - 1]), end
        if raw.startswith("${", i):
            end = raw.index("}", i)
            name, _, default = raw[i + 2:end].partition(":-")
            value = self._var(name)
            return (value if value else self.expand(default, split=False)[0]
                    if default else value), end + 1
        m = re.match(r"\$([A-Za-z_][A-Za-z0-9_]*|[0-9?#@*$])", raw[i:])
        if m is None:
            return "$", i + 1
        return self._var(m.group(1)), i + m.end()

    def _var(self, name: str) -> str:
        if name == "?":
            return str(self.status)
        if name == "$":
            return "1"
        if name == "#":
            return str(len(self.args))
        if name in ("@", "*"):
            return " ".join(self.args)
        if name.isdigit():
            n = int(name)
            return self.name if n == 0 else self.args[n - 1] if n <= len(self.args) else ""
        return self.vars.get(name, "")

    def _substitute(self, script: str) -> str:
        buffer = bytearray()
        saved = self.status
        self.script(script, b"", buffer.extend, lambda data: None)
        self.status = saved
        return bytes(buffer).decode("utf-8", "replace").rstrip("\n")

    # -- commands ---------------------------------------------------------------------------
    def commands(self) -> dict[str, Callable[[list[str], bytes, Write, Write], int]]:
        return {name[3:]: getattr(self, name) for name in dir(self) if name.startswith("_c_")} | {
            "[": self._c_test, "true": lambda *a: 0, "false": lambda *a: 1}

    def command(self, argv: list[str], stdin: bytes, out: Write, err: Write) -> int:
        name = argv[0].rsplit("/", 1)[-1] if argv[0].startswith("/") else argv[0]
        if name in SHELLS and not (name == "bash" and self.pod.busybox):
            return self._shell(name, argv[1:], stdin, out, err)
        found = self.commands().get(name)
        if found is None or name.startswith("_"):
            err(self._message(f"{argv[0]}: command not found" if self.name == "bash"
                              else f"{argv[0]}: not found").encode())
            return 127
        try:
            return found(argv, stdin, out, err)
        except ShellExit:
            raise
        except Syntax as exc:
            err(f"{name}: {exc}\n".encode())
            return 2

    def _shell(self, name: str, args: list[str], stdin: bytes, out: Write, err: Write) -> int:
        sub = Shell(self.pod, name, self._stdin)
        sub.vars = dict(self.vars)
        while args and args[0].startswith("-") and args[0] != "-c":
            args = args[1:]
        if args[:1] == ["-c"]:
            if len(args) < 2:
                err(f"{name}: -c: option requires an argument\n".encode())
                return 2
            sub.name, sub.args = (args[2], args[3:]) if len(args) > 2 else (name, [])
            return sub.script(args[1], stdin, out, err)
        if args:
            if args[0] not in self.pod.files:
                err(f"{name}: 0: cannot open {args[0]}: No such file\n".encode())
                return 2
            sub.args = args[1:]
            return sub.script(self.pod.files[args[0]].decode("utf-8", "replace"), stdin, out,
                              err)
        return sub.script(stdin.decode("utf-8", "replace"), b"", out, err)

    def _c_curl(self, argv: list[str], stdin: bytes, out: Write, err: Write) -> int:
        return Curl(argv[1:], self.pod.net, self.pod.files, out, err,
                    version=self.pod.curl_version, meter=not self.pod.tty, stdin=stdin).run()

    def _c_echo(self, argv: list[str], stdin: bytes, out: Write, err: Write) -> int:
        args, newline, escapes = argv[1:], True, not self.pod.busybox and self.name != "bash"
        while args and args[0] in ("-n", "-e", "-ne", "-en", "-E"):
            newline = newline and "n" not in args[0]
            escapes = escapes or "e" in args[0]
            args = args[1:]
        text = " ".join(args)
        if escapes:
            text = text.replace("\\n", "\n").replace("\\t", "\t")
        out((text + ("\n" if newline else "")).encode())
        return 0

    def _c_printf(self, argv: list[str], stdin: bytes, out: Write, err: Write) -> int:
        if len(argv) < 2:
            err(b"printf: usage: printf format [arguments]\n")
            return 2
        fmt = argv[1].replace("\\n", "\n").replace("\\t", "\t")
        args, text = argv[2:], ""
        specs = re.findall(r"%[-0-9.]*[sdifx]", fmt)
        while True:
            chunk, used = fmt, args[:len(specs)]
            args = args[len(specs):]
            for spec in specs:
                value: Any = used.pop(0) if used else ""
                if spec[-1] in "dix":
                    value = int(value or 0)
                elif spec[-1] == "f":
                    value = float(value or 0)
                chunk = chunk.replace(spec, spec.replace("i", "d") % value, 1)
            text += chunk.replace("%%", "%")
            if not args or not specs:
                break
        out(text.encode())
        return 0

    def _read(self, names: list[str], stdin: bytes, err: Write, tool: str) -> bytes | None:
        if not names or names == ["-"]:
            return stdin
        data = b""
        for name in names:
            if name == "-":
                data += stdin
            elif name in self.pod.files:
                data += self.pod.files[name]
            elif name in ("/dev/null",):
                continue
            else:
                err(f"{tool}: {name}: No such file or directory\n".encode())
                return None
        return data

    def _c_cat(self, argv: list[str], stdin: bytes, out: Write, err: Write) -> int:
        status = 0
        for name in argv[1:] or ["-"]:
            data = self._read([name], stdin, err, "cat")
            if data is None:
                status = 1
            else:
                out(data)
        return status

    def _c_env(self, argv: list[str], stdin: bytes, out: Write, err: Write) -> int:
        extra, args = {}, argv[1:]
        while args and "=" in args[0]:
            key, _, value = args.pop(0).partition("=")
            extra[key] = value
        if args:
            saved = self.vars
            self.vars = {**self.vars, **extra}
            try:
                return self.command(args, stdin, out, err)
            finally:
                self.vars = saved
        out("".join(f"{k}={v}\n" for k, v in {**self.vars, **extra}.items()
                    if k in self.pod.env or k in extra).encode())
        return 0

    def _c_printenv(self, argv: list[str], stdin: bytes, out: Write, err: Write) -> int:
        if len(argv) == 1:
            return self._c_env(["env"], stdin, out, err)
        values = [self.vars[n] for n in argv[1:] if n in self.vars]
        out("".join(v + "\n" for v in values).encode())
        return 0 if len(values) == len(argv) - 1 else 1

    def _c_hostname(self, argv: list[str], stdin: bytes, out: Write, err: Write) -> int:
        out(f"{self.pod.hostname}\n".encode())
        return 0

    def _c_export(self, argv: list[str], stdin: bytes, out: Write, err: Write) -> int:
        for item in argv[1:]:
            key, sep, value = item.partition("=")
            if sep:
                self.vars[key] = value
            self.pod.env[key] = self.vars.get(key, "")
        return 0

    def _c_unset(self, argv: list[str], stdin: bytes, out: Write, err: Write) -> int:
        for name in argv[1:]:
            self.vars.pop(name, None)
        return 0

    def _c_exit(self, argv: list[str], stdin: bytes, out: Write, err: Write) -> int:
        raise ShellExit(int(argv[1]) if len(argv) > 1 and argv[1].isdigit() else self.status)

    def _c_sleep(self, argv: list[str], stdin: bytes, out: Write, err: Write) -> int:
        total = 0.0
        for arg in argv[1:]:
            m = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd]?)", arg)
            if m is None:
                err(f"sleep: invalid time interval '{arg}'\n".encode())
                return 1
            total += float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[
                m.group(2)]
        if len(argv) < 2:
            err(b"sleep: missing operand\n")
            return 1
        self.pod.sleep(total)
        return 0

    def _c_seq(self, argv: list[str], stdin: bytes, out: Write, err: Write) -> int:
        try:
            nums = [int(a) for a in argv[1:]]
        except ValueError:
            err(f"seq: invalid argument: '{argv[-1]}'\n".encode())
            return 1
        first, step, last = (1, 1, nums[0]) if len(nums) == 1 else (nums[0], 1, nums[1]) \
            if len(nums) == 2 else (nums[0], nums[1], nums[2]) if len(nums) == 3 else (0, 0, 0)
        if not step:
            err(b"seq: missing operand\n")
            return 1
        values = range(first, last + (1 if step > 0 else -1), step)
        out("".join(f"{v}\n" for v in values).encode())
        return 0

    def _c_date(self, argv: list[str], stdin: bytes, out: Write, err: Write) -> int:
        fmt = next((a[1:] for a in argv[1:] if a.startswith("+")), "%a %b %e %H:%M:%S UTC %Y")
        out((time.strftime(fmt, time.gmtime()) + "\n").encode())
        return 0

    def _c_pwd(self, argv: list[str], stdin: bytes, out: Write, err: Write) -> int:
        out(f"{self.vars.get('PWD', '/')}\n".encode())
        return 0

    def _c_cd(self, argv: list[str], stdin: bytes, out: Write, err: Write) -> int:
        self.vars["PWD"] = argv[1] if len(argv) > 1 else self.vars.get("HOME", "/")
        return 0

    def _c_ls(self, argv: list[str], stdin: bytes, out: Write, err: Write) -> int:
        paths = [a for a in argv[1:] if not a.startswith("-")] or [self.vars.get("PWD", "/")]
        status = 0
        for path in paths:
            if path in self.pod.files:
                out(f"{path}\n".encode())
                continue
            prefix = path.rstrip("/") + "/"
            names = sorted({f[len(prefix):].split("/")[0] for f in self.pod.files
                            if f.startswith(prefix)})
            if not names:
                err(f"ls: {path}: No such file or directory\n".encode() if self.pod.busybox else
                    f"ls: cannot access '{path}': No such file or directory\n".encode())
                status = 2 if not self.pod.busybox else 1
                continue
            out("".join(n + "\n" for n in names).encode())
        return status

    def _c_which(self, argv: list[str], stdin: bytes, out: Write, err: Write) -> int:
        known = self.commands()
        found = [a for a in argv[1:] if a in known or a in SHELLS]
        out("".join(f"/usr/bin/{a}\n" for a in found).encode())
        return 0 if len(found) == len(argv) - 1 else 1

    def _c_command(self, argv: list[str], stdin: bytes, out: Write, err: Write) -> int:
        if argv[1:2] == ["-v"]:
            return self._c_which(["which", *argv[2:]], stdin, out, err)
        return self.command(argv[1:], stdin, out, err) if len(argv) > 1 else 0

    def _c_test(self, argv: list[str], stdin: bytes, out: Write, err: Write) -> int:
        args = argv[1:-1] if argv[0] == "[" else argv[1:]
        if argv[0] == "[" and argv[-1] != "]":
            err(self._message("[: missing ]").encode())
            return 2
        negate = bool(args) and args[0] == "!"
        args = args[1:] if negate else args
        result = False
        if len(args) == 1:
            result = bool(args[0])
        elif len(args) == 2:
            op, value = args
            result = {"-z": not value, "-n": bool(value),
                      "-f": value in self.pod.files, "-e": value in self.pod.files,
                      "-d": any(f.startswith(value.rstrip("/") + "/") for f in self.pod.files)
                      }.get(op, False)
        elif len(args) == 3:
            left, op, right = args
            try:
                result = {"=": left == right, "==": left == right, "!=": left != right}[op] \
                    if op in ("=", "==", "!=") else {
                    "-eq": operator.eq, "-ne": operator.ne, "-lt": operator.lt,
                    "-le": operator.le, "-gt": operator.gt, "-ge": operator.ge}[op](
                    int(left), int(right))
            except (KeyError, ValueError):
                err(self._message(f"{argv[0]}: {left}: bad number").encode())
                return 2
        return int(result == negate)

    def _c_tar(self, argv: list[str], stdin: bytes, out: Write, err: Write) -> int:
        err(b"tar: the meshgrade lab's pods have no tar: kubectl cp is not supported "
            b"(use kubectl exec POD -- cat FILE > FILE)\n")
        return 2

    # -- text tools -------------------------------------------------------------------------
    def _c_grep(self, argv: list[str], stdin: bytes, out: Write, err: Write) -> int:
        flags, patterns, names, limit, i = set(), [], [], None, 1
        while i < len(argv):
            arg = argv[i]
            if arg in ("-e", "--regexp") and i + 1 < len(argv):
                patterns.append(argv[i + 1])
                i += 2
                continue
            if arg in ("-m", "--max-count") and i + 1 < len(argv):
                limit = int(argv[i + 1])
                i += 2
                continue
            if arg.startswith("--"):
                flags.add({"--ignore-case": "i", "--invert-match": "v", "--count": "c",
                           "--only-matching": "o", "--quiet": "q", "--silent": "q",
                           "--extended-regexp": "E", "--fixed-strings": "F",
                           "--line-number": "n", "--word-regexp": "w",
                           "--line-regexp": "x"}.get(arg, "?"))
            elif arg.startswith("-") and len(arg) > 1:
                flags.update(arg[1:])
            elif not patterns and "e" not in flags:
                patterns.append(arg)
            else:
                names.append(arg)
            i += 1
        if not patterns:
            err(b"Usage: grep [OPTION]... PATTERNS [FILE]...\n")
            return 2
        data = self._read(names, stdin, err, "grep")
        if data is None:
            return 2
        regexes = []
        for pattern in patterns:
            text = re.escape(pattern) if "F" in flags else pattern if "E" in flags \
                else _bre(pattern)
            if "w" in flags:
                text = rf"\b(?:{text})\b"
            if "x" in flags:
                text = rf"^(?:{text})$"
            try:
                regexes.append(re.compile(text, re.IGNORECASE if "i" in flags else 0))
            except re.error:
                err(b"grep: Invalid regular expression\n")
                return 2
        shown, found = [], 0
        lines = data.decode("utf-8", "replace").split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        for n, line in enumerate(lines, 1):
            hits = [m for r in regexes for m in r.finditer(line) if m.group(0) or "o" not in flags]
            if bool(hits) == ("v" in flags):
                continue
            found += 1
            prefix = f"{n}:" if "n" in flags else ""
            if "o" in flags and "v" not in flags:
                shown += [prefix + m.group(0) for m in sorted(hits, key=lambda m: m.start())]
            else:
                shown.append(prefix + line)
            if limit is not None and found >= limit:
                break
        if "q" in flags:
            return 0 if found else 1
        if "c" in flags:
            out(f"{found}\n".encode())
        else:
            out("".join(s + "\n" for s in shown).encode())
        return 0 if found else 1

    def _count_arg(self, argv: list[str], tool: str) -> tuple[int, bool, list[str]]:
        count, by_bytes, names, i = 10, False, [], 1
        while i < len(argv):
            arg = argv[i]
            if arg in ("-n", "-c") and i + 1 < len(argv):
                by_bytes = arg == "-c"
                count = int(argv[i + 1].lstrip("+-") or 0)
                i += 2
                continue
            if re.fullmatch(r"-[nc]?\d+", arg):
                by_bytes = arg.startswith("-c")
                count = int(arg.lstrip("-nc"))
            elif re.fullmatch(r"--lines=\d+", arg):
                count = int(arg.split("=")[1])
            elif arg not in ("-f", "-q"):
                names.append(arg)
            i += 1
        return count, by_bytes, names

    def _c_head(self, argv: list[str], stdin: bytes, out: Write, err: Write) -> int:
        count, by_bytes, names = self._count_arg(argv, "head")
        data = self._read(names, stdin, err, "head")
        if data is None:
            return 1
        out(data[:count] if by_bytes else b"".join(data.splitlines(keepends=True)[:count]))
        return 0

    def _c_tail(self, argv: list[str], stdin: bytes, out: Write, err: Write) -> int:
        count, by_bytes, names = self._count_arg(argv, "tail")
        data = self._read(names, stdin, err, "tail")
        if data is None:
            return 1
        if by_bytes:
            out(data[-count:] if count else b"")
        else:
            lines = data.splitlines(keepends=True)
            out(b"".join(lines[-count:] if count else []))
        return 0

    def _c_wc(self, argv: list[str], stdin: bytes, out: Write, err: Write) -> int:
        flags = "".join(a[1:] for a in argv[1:] if a.startswith("-")) or "lwc"
        data = self._read([a for a in argv[1:] if not a.startswith("-")], stdin, err, "wc")
        if data is None:
            return 1
        counts = {"l": data.count(b"\n"), "w": len(data.split()), "c": len(data)}
        values = [str(counts[f]) for f in "lwc" if f in flags]
        out((" ".join(v.rjust(7 if len(values) > 1 else 0) for v in values).strip() + "\n")
            .encode())
        return 0

    def _c_sort(self, argv: list[str], stdin: bytes, out: Write, err: Write) -> int:
        flags = "".join(a[1:] for a in argv[1:] if a.startswith("-"))
        data = self._read([a for a in argv[1:] if not a.startswith("-")], stdin, err, "sort")
        if data is None:
            return 2
        lines = data.decode("utf-8", "replace").splitlines()
        if "n" in flags:
            def num(line: str) -> float:
                m = re.match(r"\s*(-?\d+(?:\.\d+)?)", line)
                return float(m.group(1)) if m else 0.0
            lines.sort(key=num, reverse="r" in flags)
        else:
            lines.sort(reverse="r" in flags)
        if "u" in flags:
            lines = list(dict.fromkeys(lines))
        out("".join(x + "\n" for x in lines).encode())
        return 0

    def _c_uniq(self, argv: list[str], stdin: bytes, out: Write, err: Write) -> int:
        count = "-c" in argv[1:]
        data = self._read([a for a in argv[1:] if not a.startswith("-")], stdin, err, "uniq")
        if data is None:
            return 1
        groups: list[list[Any]] = []
        for line in data.decode("utf-8", "replace").splitlines():
            if groups and groups[-1][0] == line:
                groups[-1][1] += 1
            else:
                groups.append([line, 1])
        out("".join((f"{n:7d} {line}" if count else line) + "\n" for line, n in groups)
            .encode())
        return 0

    def _c_cut(self, argv: list[str], stdin: bytes, out: Write, err: Write) -> int:
        delim, fields, names, i = "\t", "", [], 1
        while i < len(argv):
            arg = argv[i]
            if arg in ("-d", "-f") and i + 1 < len(argv):
                delim, fields = (argv[i + 1], fields) if arg == "-d" else (delim, argv[i + 1])
                i += 2
                continue
            if arg.startswith("-d"):
                delim = arg[2:]
            elif arg.startswith("-f"):
                fields = arg[2:]
            else:
                names.append(arg)
            i += 1
        wanted: set[int] = set()
        for part in fields.split(","):
            lo, sep, hi = part.partition("-")
            if part:
                wanted.update(range(int(lo or 1), int(hi or 999) + 1) if sep else {int(lo)})
        data = self._read(names, stdin, err, "cut")
        if data is None:
            return 1
        lines = []
        for line in data.decode("utf-8", "replace").splitlines():
            parts = line.split(delim)
            lines.append(delim.join(p for n, p in enumerate(parts, 1) if n in wanted)
                         if len(parts) > 1 else line)
        out("".join(x + "\n" for x in lines).encode())
        return 0

    def _c_tr(self, argv: list[str], stdin: bytes, out: Write, err: Write) -> int:
        def chars(spec: str) -> str:
            spec = spec.replace("[:lower:]", "a-z").replace("[:upper:]", "A-Z").replace(
                "\\n", "\n")
            return re.sub(r"(.)-(.)", lambda m: "".join(
                chr(c) for c in range(ord(m.group(1)), ord(m.group(2)) + 1)), spec)

        args = argv[1:]
        text = stdin.decode("utf-8", "replace")
        if args[:1] == ["-d"] and len(args) > 1:
            out("".join(c for c in text if c not in chars(args[1])).encode())
            return 0
        if len(args) != 2:
            err(b"tr: missing operand\n")
            return 1
        src, dst = chars(args[0]), chars(args[1])
        dst = (dst + dst[-1:] * len(src))[:len(src)]
        out(text.translate(str.maketrans(src, dst)).encode())
        return 0

    def _c_sed(self, argv: list[str], stdin: bytes, out: Write, err: Write) -> int:
        scripts = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "-e"]
        rest = [a for i, a in enumerate(argv[1:], 1) if a != "-e" and argv[i - 1] != "-e"
                and not a.startswith("-")]
        if not scripts and rest:
            scripts, rest = [rest[0]], rest[1:]
        data = self._read(rest, stdin, err, "sed")
        if data is None:
            return 2
        text = data.decode("utf-8", "replace")
        for script in scripts:
            m = re.fullmatch(r"s(.)(.*?)\1(.*?)\1([gI]*)", script)
            if m is None:
                err(f"sed: -e expression #1, char {len(script)}: unknown command\n".encode())
                return 1
            pattern = re.compile(_bre(m.group(2)), re.IGNORECASE if "I" in m.group(4) else 0)
            repl = re.sub(r"\\(\d)", r"\\\1", m.group(3)).replace("&", r"\g<0>")
            text = "\n".join(pattern.sub(repl, line, count=0 if "g" in m.group(4) else 1)
                             for line in text.split("\n"))
        out(text.encode())
        return 0


__all__ = ["Pod", "Shell", "Syntax", "tokenize"]
