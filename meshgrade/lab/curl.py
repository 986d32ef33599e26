"""``curl`` as it runs in a pod, for ``kubectl exec``: the options the Istio docs and
students use (``-s -S -o -O -w -i -I -H -b -c -d --data* -X -L -v -f -m --retry*`` ...), its
messages and exit codes. Where a request goes (the pod's sidecar, kube-proxy, the pod itself)
is the :class:`Network`'s decision."""

from __future__ import annotations

import base64
import http.client
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

HELP = "curl: try 'curl --help' or 'curl --manual' for more information\n"
TRANSIENT = {408, 429, 500, 502, 503, 504, 522, 524}
Write = Callable[[bytes], None]


class CurlError(Exception):
    """A failed transfer: curl's exit code and message."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Reply:
    """An HTTP answer (a synthetic one when the sidecar answers by itself)."""

    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes
    peer: tuple[str, int] = ("", 0)


class Network(Protocol):
    """Where a pod's connection to ``host:port`` goes."""

    def resolve(self, host: str, port: int, tls: bool) -> tuple[str, int] | Reply:
        """(address, port) to connect to, or the reply the pod's sidecar gives by itself;
        raises CurlError (6: no such host, 7: nothing listens, 35: TLS to plain text)."""
        ...

    def headers(self) -> list[tuple[str, str]]:
        """Headers the pod's sidecar adds to what it sends (identity of the caller)."""
        ...

    def sleep(self, seconds: float) -> None: ...


@dataclass
class Options:
    urls: list[str] = field(default_factory=list)
    silent: bool = False
    show_error: bool = False
    include: bool = False
    head: bool = False
    location: bool = False
    verbose: bool = False
    fail: bool = False
    fail_body: bool = False
    get: bool = False
    output: str | None = None
    remote_name: bool = False
    write_out: str | None = None
    headers: list[str] = field(default_factory=list)
    cookies: list[str] = field(default_factory=list)
    jar: str | None = None
    data: list[str] = field(default_factory=list)
    method: str | None = None
    user_agent: str | None = None
    referer: str | None = None
    user: str | None = None
    max_time: float | None = None
    connect_timeout: float | None = None
    retry: int = 0
    retry_delay: float | None = None
    retry_connrefused: bool = False
    retry_all: bool = False
    max_redirs: int = 50
    json: bool = False
    no_meter: bool = False


_FLAGS = {"-s": "silent", "--silent": "silent", "-S": "show_error", "--show-error": "show_error",
          "-i": "include", "--include": "include", "-I": "head", "--head": "head",
          "-L": "location", "--location": "location", "-v": "verbose", "--verbose": "verbose",
          "-f": "fail", "--fail": "fail", "--fail-with-body": "fail_body", "-G": "get",
          "--get": "get", "-O": "remote_name", "--remote-name": "remote_name",
          "--retry-connrefused": "retry_connrefused", "--retry-all-errors": "retry_all",
          "--no-progress-meter": "no_meter"}
_IGNORED = {"-k", "--insecure", "-4", "-6", "--http1.1", "--http1.0", "--http2", "-N",
            "--no-buffer", "--compressed", "-q", "--disable", "--tcp-nodelay", "-#",
            "--progress-bar", "--path-as-is", "--no-keepalive", "--raw"}
_VALUES = {"-o": "output", "--output": "output", "-w": "write_out", "--write-out": "write_out",
           "-H": "headers", "--header": "headers", "-b": "cookies", "--cookie": "cookies",
           "-c": "jar", "--cookie-jar": "jar", "-d": "data", "--data": "data",
           "--data-ascii": "data", "--data-raw": "data", "--data-binary": "data",
           "--data-urlencode": "data", "-X": "method", "--request": "method",
           "-A": "user_agent", "--user-agent": "user_agent", "-e": "referer",
           "--referer": "referer", "-u": "user", "--user": "user", "-m": "max_time",
           "--max-time": "max_time", "--connect-timeout": "connect_timeout",
           "--retry": "retry", "--retry-delay": "retry_delay", "--max-redirs": "max_redirs",
           "--url": "urls", "--json": "data"}
_IGNORED_VALUES = {"--retry-max-time", "--resolve", "--noproxy", "--cacert", "--cert", "--key",
                   "--connect-to", "--interface", "--limit-rate", "-r", "--range",
                   "--proto", "--proto-redir", "--expect100-timeout", "-Y", "-y",
                   "--speed-limit", "--speed-time", "--keepalive-time"}


def parse(argv: list[str]) -> Options:
    """curl's command line; CurlError(2) for what curl would refuse."""
    opts, i = Options(), 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg == "--":
            opts.urls.extend(argv[i:])
            break
        name, value = arg, None
        if arg.startswith("--") and "=" in arg and arg.split("=", 1)[0] in _VALUES:
            name, value = arg.split("=", 1)
        if not arg.startswith("-") or arg == "-":
            opts.urls.append(arg)
            continue
        if arg.startswith("-") and not arg.startswith("--") and len(arg) > 2:
            # bundled short options: -sSL, -svo FILE, -o/dev/null, -w'%{http_code}'
            for j, ch in enumerate(arg[1:], 1):
                short = f"-{ch}"
                if short in _VALUES or short in _IGNORED_VALUES:
                    rest = arg[j + 1:]
                    if not rest:
                        if i >= len(argv):
                            raise CurlError(2, f"curl: option {short}: requires parameter\n"
                                            + HELP)
                        rest = argv[i]
                        i += 1
                    if short in _VALUES:
                        _set(opts, short, rest)
                    break
                if short not in _FLAGS and short not in _IGNORED:
                    raise CurlError(2, f"curl: option {arg}: is unknown\n" + HELP)
                if short in _FLAGS:
                    setattr(opts, _FLAGS[short], True)
            continue
        if name in _FLAGS:
            setattr(opts, _FLAGS[name], True)
        elif name in _IGNORED:
            continue
        elif name in _VALUES or name in _IGNORED_VALUES:
            if value is None:
                if i >= len(argv):
                    raise CurlError(2, f"curl: option {name}: requires parameter\n" + HELP)
                value = argv[i]
                i += 1
            if name in _VALUES:
                if name == "--data-urlencode":
                    key, sep, raw = value.rpartition("=")
                    value = f"{key}{sep}{urllib.parse.quote_plus(raw)}" if sep else \
                        urllib.parse.quote_plus(value)
                if name == "--json":
                    opts.json = True
                _set(opts, name, value)
        else:
            raise CurlError(2, f"curl: option {name}: is unknown\n" + HELP)
    if not opts.urls:
        raise CurlError(2, "curl: no URL specified\n" + HELP)
    return opts


def _set(opts: Options, flag: str, value: str) -> None:
    key = _VALUES[flag]
    if key in ("headers", "cookies", "data", "urls"):
        getattr(opts, key).append(value)
    elif key in ("max_time", "connect_timeout", "retry_delay"):
        try:
            setattr(opts, key, float(value))
        except ValueError:
            raise CurlError(2, f"curl: option {flag}: expected a proper numerical parameter\n"
                            + HELP) from None
    elif key in ("retry", "max_redirs"):
        try:
            setattr(opts, key, int(value))
        except ValueError:
            raise CurlError(2, f"curl: option {flag}: expected a proper numerical parameter\n"
                            + HELP) from None
    else:
        setattr(opts, key, value)


# -- cookies -----------------------------------------------------------------------------

JAR_HEAD = ("# Netscape HTTP Cookie File\n# https://curl.se/docs/http-cookies.html\n"
            "# This file was generated by libcurl! Edit at your own risk.\n\n")


def read_jar(text: str) -> list[tuple[str, str, str, str, bool]]:
    """(domain, path, name, value, http_only) of a Netscape cookie file."""
    out = []
    for line in text.splitlines():
        http_only = line.startswith("#HttpOnly_")
        if http_only:
            line = line[len("#HttpOnly_"):]
        elif line.startswith("#") or not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) >= 7:
            out.append((parts[0], parts[2], parts[5], parts[6], http_only))
    return out


def write_jar(cookies: list[tuple[str, str, str, str, bool]]) -> str:
    lines = [f"{'#HttpOnly_' if http_only else ''}{domain}\tFALSE\t{path}\tFALSE\t0\t{name}\t"
             f"{value}" for domain, path, name, value, http_only in cookies]
    return JAR_HEAD + "".join(line + "\n" for line in lines)


def _set_cookie(header: str, host: str) -> tuple[str, str, str, str, bool] | None:
    first, *attrs = [p.strip() for p in header.split(";")]
    name, sep, value = first.partition("=")
    if not sep:
        return None
    path, http_only = "/", False
    for attr in attrs:
        key, _, val = attr.partition("=")
        if key.lower() == "path" and val:
            path = val
        elif key.lower() == "httponly":
            http_only = True
    return host, path, name.strip(), value.strip(), http_only


# -- the transfer ------------------------------------------------------------------------

@dataclass
class Transfer:
    """What one URL's transfer gives: for -w, -o, -c."""

    url: str
    reply: Reply | None = None
    started: float = 0.0
    connected: float = 0.0
    ended: float = 0.0
    redirects: int = 0
    sent_headers: int = 0
    peer: tuple[str, int] = ("", 0)
    method: str = "GET"


class Curl:
    """One ``curl`` invocation in a pod."""

    def __init__(self, argv: list[str], net: Network, files: dict[str, bytes],
                 stdout: Write, stderr: Write, *, version: str = "8.16.0",
                 meter: bool = True, stdin: bytes = b"") -> None:
        self.argv, self.net, self.files = argv, net, files
        self.stdout, self.stderr = stdout, stderr
        self.version, self.meter, self.stdin = version, meter, stdin

    def run(self) -> int:
        try:
            opts = parse(self.argv)
        except CurlError as err:
            self.stderr(str(err).encode())
            return err.code
        self.opts = opts
        self.jar = [c for name in opts.cookies if "=" not in name and name in self.files
                    for c in read_jar(self.files[name].decode("utf-8", "replace"))]
        code = 0
        for url in opts.urls:
            code = self._url(url)
        return code

    # -- one URL -------------------------------------------------------------------------
    def _url(self, url: str) -> int:
        opts = self.opts
        attempts, delay = opts.retry + 1, opts.retry_delay if opts.retry_delay else 1.0
        for attempt in range(attempts):
            transfer = Transfer(url)
            error: CurlError | None = None
            try:
                self._transfer(transfer)
            except CurlError as err:
                error = err
            status = transfer.reply.status if transfer.reply else 0
            retry = attempt + 1 < attempts and (
                (error is not None and (error.code == 28 or opts.retry_all or (
                    error.code == 7 and opts.retry_connrefused)))
                or (error is None and (status in TRANSIENT or (opts.retry_all and status >= 400))))
            if retry:
                left = attempts - attempt - 1
                what = "HTTP error" if error is None else "timeout" if error.code == 28 \
                    else "connection refused" if error.code == 7 else "transient problem"
                if not opts.silent:
                    self.stderr(f"Warning: Problem : {what}. Will retry in {delay:g} second"
                                f"{'s' if delay != 1 else ''}. {left} retr"
                                f"{'ies' if left != 1 else 'y'} left.\n".encode())
                self.net.sleep(delay)
                if opts.retry_delay is None:
                    delay = min(delay * 2, 600)
                continue
            return self._finish(transfer, error)
        return 0  # pragma: no cover - the loop always returns

    def _finish(self, transfer: Transfer, error: CurlError | None) -> int:
        opts = self.opts
        reply = transfer.reply
        code = error.code if error else 0
        message = str(error) if error else ""
        if reply is not None and error is None and (opts.fail or opts.fail_body) and \
                reply.status >= 400:
            code, message = 22, f"The requested URL returned error: {reply.status}"
        if reply is not None and (code != 22 or opts.fail_body):
            out = b""
            if opts.include or opts.head:
                out += self._head_text(reply)
            if not opts.head:
                out += reply.body
            self._output(transfer, out)
        if self.meter and not opts.silent and not opts.verbose and not opts.no_meter:
            self._progress(reply.body if reply else b"", transfer)
        if opts.jar is not None and reply is not None:
            self._save_jar()
        if opts.write_out is not None:
            self._write_out(transfer, code, message)
        if code and (not opts.silent or opts.show_error):
            self.stderr(f"curl: ({code}) {message}\n".encode())
        return code

    def _output(self, transfer: Transfer, data: bytes) -> None:
        target = self.opts.output
        if target is None and self.opts.remote_name:
            target = urllib.parse.urlsplit(transfer.url).path.rsplit("/", 1)[-1] or None
            if target is None:
                raise CurlError(23, "Remote file name has no length")
        if target is None or target == "-":
            self.stdout(data)
        elif target != "/dev/null":
            self.files[target] = data

    # -- HTTP ----------------------------------------------------------------------------
    def _request_headers(self, host_header: str, parts: urllib.parse.SplitResult
                         ) -> list[tuple[str, str]]:
        opts = self.opts
        out = [("Host", host_header), ("User-Agent", opts.user_agent or f"curl/{self.version}"),
               ("Accept", "application/json" if opts.json else "*/*")]
        if opts.referer:
            out.append(("Referer", opts.referer))
        if opts.user:
            out.append(("Authorization", "Basic " + base64.b64encode(opts.user.encode()).decode()))
        cookies = self._cookies(parts.hostname or "", parts.path or "/")
        if cookies:
            out.append(("Cookie", cookies))
        if opts.data and not opts.get and not opts.head:
            out.append(("Content-Type", "application/json" if opts.json
                        else "application/x-www-form-urlencoded"))
        for raw in opts.headers:
            name, sep, value = raw.partition(":")
            name, value = name.strip(), value.strip()
            if not sep and raw.endswith(";"):
                name, value = raw[:-1].strip(), ""
            elif not sep:
                continue
            out = [(k, v) for k, v in out if k.lower() != name.lower()]
            if value or raw.endswith(";"):
                out.append((name, value))
        return out

    def _cookies(self, host: str, path: str) -> str:
        pairs = [c for c in self.opts.cookies if "=" in c]
        pairs += [f"{n}={v}" for d, p, n, v, _ in self.jar
                  if d.lstrip(".") in (host, "") and path.startswith(p)]
        return "; ".join(pairs)

    def _body(self) -> bytes | None:
        opts = self.opts
        if not opts.data:
            return None
        chunks = []
        for item in opts.data:
            if item.startswith("@"):
                name = item[1:]
                chunks.append(self.stdin if name == "-" else self.files.get(name, b""))
            else:
                chunks.append(item.encode())
        return b"&".join(c.replace(b"\r", b"").replace(b"\n", b"") for c in chunks)

    def _transfer(self, transfer: Transfer) -> None:
        opts = self.opts
        url = transfer.url if "://" in transfer.url else f"http://{transfer.url}"
        body = self._body()
        method = opts.method or ("HEAD" if opts.head else "POST" if body is not None and
                                 not opts.get else "GET")
        if opts.get and body:
            url += ("&" if "?" in url else "?") + body.decode()
            body = None
        transfer.started = time.monotonic()
        for hop in range(opts.max_redirs + 1):
            reply = self._one(url, method, body, transfer)
            transfer.reply, transfer.ended, transfer.method = reply, time.monotonic(), method
            location = next((v for k, v in reply.headers if k.lower() == "location"), None)
            if not (opts.location and location and reply.status in (301, 302, 303, 307, 308)):
                return
            if hop == opts.max_redirs:
                raise CurlError(47, f"Maximum ({opts.max_redirs}) redirects followed")
            transfer.redirects += 1
            self._remember(reply, urllib.parse.urlsplit(url))
            url = urllib.parse.urljoin(url, location)
            if reply.status in (301, 302, 303) and method == "POST" and opts.method is None:
                method, body = "GET", None

    def _one(self, url: str, method: str, body: bytes | None, transfer: Transfer) -> Reply:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise CurlError(1, f'Protocol "{parts.scheme}" not supported')
        host = parts.hostname or ""
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise CurlError(3, "URL rejected: Port number was not a decimal number between 0 "
                            "and 65535") from None
        default = port == (443 if parts.scheme == "https" else 80)
        host_header = host if default else f"{host}:{port}"
        if ":" in host:
            host_header = f"[{host}]" if default else f"[{host}]:{port}"
        target = self.net.resolve(host, port, parts.scheme == "https")
        headers = self._request_headers(host_header, parts)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        transfer.sent_headers = sum(len(k) + len(v) + 4 for k, v in headers) + len(path) + 16
        if self.opts.verbose:
            self._verbose_request(host, port, target, method, path, headers)
        if isinstance(target, Reply):
            transfer.connected = time.monotonic()
            reply = target
        else:
            reply = self._http(target, host, port, method, path, headers, body, transfer)
        if self.opts.verbose:
            self._verbose_reply(reply, host)
        self._remember(reply, parts)
        return reply

    def _http(self, target: tuple[str, int], host: str, port: int, method: str, path: str,
              headers: list[tuple[str, str]], body: bytes | None, transfer: Transfer) -> Reply:
        timeout = self.opts.max_time or self.opts.connect_timeout or 120.0
        conn = http.client.HTTPConnection(target[0], target[1], timeout=timeout)
        t0 = time.monotonic()
        try:
            conn.connect()
            transfer.connected = time.monotonic()
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            for name, value in [*headers, *self.net.headers()]:
                conn.putheader(name, value)
            if body is not None:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            resp = conn.getresponse()
            data = resp.read() if method != "HEAD" else b""
            return Reply(resp.status, resp.reason, list(resp.getheaders()), data)
        except ConnectionRefusedError:
            ms = int((time.monotonic() - t0) * 1000)
            raise CurlError(7, f"Failed to connect to {host} port {port} after {ms} ms: "
                            "Couldn't connect to server") from None
        except TimeoutError:
            ms = int((time.monotonic() - t0) * 1000)
            raise CurlError(28, f"Operation timed out after {ms} milliseconds with 0 bytes "
                            "received") from None
        except http.client.RemoteDisconnected:
            raise CurlError(52, "Empty reply from server") from None
        except (ConnectionResetError, BrokenPipeError, http.client.IncompleteRead):
            raise CurlError(56, "Recv failure: Connection reset by peer") from None
        except OSError as exc:
            raise CurlError(7, f"Failed to connect to {host} port {port}: {exc}") from None
        finally:
            conn.close()

    def _remember(self, reply: Reply, parts: urllib.parse.SplitResult) -> None:
        """Cookies the answer sets, kept when the cookie engine is on (-b or -c)."""
        if not self.opts.cookies and self.opts.jar is None:
            return
        for k, v in reply.headers:
            cookie = _set_cookie(v, parts.hostname or "") if k.lower() == "set-cookie" else None
            if cookie is not None:
                self.jar = [c for c in self.jar if (c[0], c[2]) != (cookie[0], cookie[2])]
                self.jar.append(cookie)

    def _save_jar(self) -> None:
        assert self.opts.jar is not None
        if self.opts.jar == "-":
            self.stdout(write_jar(self.jar).encode())
        else:
            self.files[self.opts.jar] = write_jar(self.jar).encode()

    # -- what curl prints ----------------------------------------------------------------
    @staticmethod
    def _head_text(reply: Reply) -> bytes:
        lines = [f"HTTP/1.1 {reply.status} {reply.reason}".rstrip()]
        lines += [f"{k}: {v}" for k, v in reply.headers]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    def _verbose_request(self, host: str, port: int, target: tuple[str, int] | Reply,
                         method: str, path: str, headers: list[tuple[str, str]]) -> None:
        address = self.net_address(host)
        lines = [f"* Host {host}:{port} was resolved.", f"*   Trying {address}:{port}...",
                 f"* Connected to {host} ({address}) port {port}", "* using HTTP/1.x",
                 f"> {method} {path} HTTP/1.1", *[f"> {k}: {v}" for k, v in headers], ">"]
        self.stderr(("\n".join(lines) + "\n").encode())

    def net_address(self, host: str) -> str:
        finder = getattr(self.net, "address", None)
        return str(finder(host)) if callable(finder) else host

    def _verbose_reply(self, reply: Reply, host: str) -> None:
        lines = [f"< HTTP/1.1 {reply.status} {reply.reason}".rstrip(),
                 *[f"< {k}: {v}" for k, v in reply.headers], "<",
                 f"{{ [{len(reply.body)} bytes data]",
                 f"* Connection #0 to host {host} left intact"]
        self.stderr(("\n".join(lines) + "\n").encode())

    def _progress(self, body: bytes, transfer: Transfer) -> None:
        size = _size(len(body))
        spent = max(transfer.ended - transfer.started, 1e-6)
        speed = _size(int(len(body) / spent))
        head = ("  % Total    % Received % Xferd  Average Speed   Time    Time     Time  "
                "Current\n                                 Dload  Upload   Total   Spent    "
                "Left  Speed\n")
        pct = "100" if body else "  0"
        line = (f"\r{pct} {size:>5}  {pct} {size:>5}    0     0  {speed:>5}      0 --:--:-- "
                f"--:--:-- --:--:-- {speed:>5}\n")
        self.stderr((head + line).encode())

    def _write_out(self, transfer: Transfer, code: int, message: str) -> None:
        assert self.opts.write_out is not None
        text = self.opts.write_out
        if text.startswith("@"):
            text = self.files.get(text[1:], b"").decode("utf-8", "replace")
        reply = transfer.reply
        parts = urllib.parse.urlsplit(transfer.url if "://" in transfer.url
                                      else f"http://{transfer.url}")
        total = max(transfer.ended - transfer.started, 0.0) if reply else 0.0
        values = {
            "http_code": f"{reply.status:03d}" if reply else "000",
            "response_code": f"{reply.status:03d}" if reply else "000",
            "time_total": f"{total:.6f}", "time_namelookup": "0.000010",
            "time_connect": f"{max(transfer.connected - transfer.started, 0):.6f}",
            "time_appconnect": "0.000000", "time_pretransfer": f"{total / 2:.6f}",
            "time_starttransfer": f"{total:.6f}", "time_redirect": "0.000000",
            "size_download": str(len(reply.body) if reply else 0),
            "size_header": str(len(self._head_text(reply)) if reply else 0),
            "size_request": str(transfer.sent_headers), "size_upload": "0",
            "url_effective": transfer.url if "://" in transfer.url
            else f"http://{transfer.url}",
            "url": transfer.url, "content_type": next(
                (v for k, v in (reply.headers if reply else []) if k.lower() == "content-type"),
                ""), "num_redirects": str(transfer.redirects),
            "redirect_url": next((urllib.parse.urljoin(transfer.url, v) for k, v in
                                  (reply.headers if reply else [])
                                  if k.lower() == "location"), ""),
            "remote_ip": self.net_address(parts.hostname or ""),
            "remote_port": str(parts.port or 80), "local_ip": "", "local_port": "",
            "http_version": "1.1" if reply else "0", "method": transfer.method,
            "scheme": parts.scheme.upper(), "exitcode": str(code), "errormsg": message,
            "speed_download": str(int(len(reply.body) / total) if reply and total else 0),
            "num_connects": "1" if reply else "0", "ssl_verify_result": "0",
        }
        out: list[str] = []
        err: list[str] = []
        i = 0
        sink = out
        text = text.replace("\\n", "\n").replace("\\t", "\t").replace("\\r", "\r")
        while i < len(text):
            if text.startswith("%{", i) and "}" in text[i:]:
                end = text.index("}", i)
                name = text[i + 2:end]
                if name == "stderr":
                    sink = err
                elif name == "stdout":
                    sink = out
                elif name.startswith("header{") and reply is not None:
                    wanted = name[7:].lower()
                    sink.append(next((v for k, v in reply.headers if k.lower() == wanted), ""))
                    end = text.index("}", end + 1) if text[end + 1:end + 2] == "}" else end
                else:
                    sink.append(values.get(name, ""))
                i = end + 1
            elif text.startswith("%%", i):
                sink.append("%")
                i += 2
            else:
                sink.append(text[i])
                i += 1
        self.stdout("".join(out).encode())
        if err:
            self.stderr("".join(err).encode())


def _size(n: int) -> str:
    """curl's 5-character sizes (12345, 123k, 12.3M)."""
    if n < 100000:
        return str(n)
    if n < 10000 * 1024:
        return f"{n // 1024}k"
    if n < 100 * 1024 * 1024:
        return f"{n / 1024 / 1024:.1f}M"
    return f"{n // (1024 * 1024)}M"
