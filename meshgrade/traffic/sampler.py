"""The traffic sampler: requests of a `RequestClass` through the ingress gateway, classified by
an oracle, with bounded concurrency, keep-alive sessions, retries and request-id tags."""

from __future__ import annotations

import itertools
import queue
import random
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from types import TracebackType

import requests
from requests.adapters import HTTPAdapter

from . import answers
from .classes import LoginError, RequestClass, log_in
from .oracles import Classification, Oracle
from .progressline import Progress

BACKOFF_S = 0.05
USER_AGENT = "meshgrade-sampler"


class GatewayUnreachable(Exception):
    """Every request of a batch failed to connect: the check is an ERROR, not a failure.
    ``samples`` holds the failed samples."""

    def __init__(self, message: str, samples: list[Sample]) -> None:
        super().__init__(message)
        self.samples = samples


@dataclass
class Sample:
    """One sampled request. ``t``: seconds since the sampler started, at send time.
    ``error``: None for a normal answer, else ``connection: ...``, ``timeout: ...``,
    ``login: ...``, ``http <status>`` (4xx/5xx) or ``error page``. ``version`` is None for
    every error and for answers the oracle could not classify. ``answer``: what came back,
    one of the kinds of `answers` ("" for samples recorded without one)."""

    t: float
    cls: str
    status: int | None
    version: str | None
    pod: str | None
    latency_ms: float
    request_id: str
    error: str | None
    problems: tuple[str, ...] = ()
    answer: str = ""

    @property
    def connection_failed(self) -> bool:
        return self.error is not None and self.error.startswith("connection")


@dataclass
class _Client:
    session: requests.Session
    logged_in: bool = False


def _base(url: str) -> str:
    url = url.rstrip("/")
    return url if "://" in url else f"http://{url}"


class Sampler:
    """Samples through ``base_url`` ("host:port" or a URL). Each request carries
    ``x-request-id: <run_id>-<n>`` (the same id on its retries; a login ``<id>-login``);
    ``timeout_s`` bounds the connect and each read. Connection errors are retried
    ``retries`` times with a short back-off (jittered from ``seed``) and counted in
    ``connection_errors``; ``log`` keeps every sample in completion order. ``progress``
    (default: a line on the terminal's stderr, if there is one) is told of every sample."""

    def __init__(self, base_url: str, *, run_id: str, concurrency: int = 4,
                 timeout_s: float = 5.0, retries: int = 2, seed: int | None = None,
                 progress: Progress | None = None) -> None:
        if concurrency < 1 or retries < 0 or timeout_s <= 0:
            raise ValueError("concurrency >= 1, retries >= 0 and timeout_s > 0 are required")
        self.base_url = _base(base_url)
        self.run_id = run_id
        self.concurrency = concurrency
        self.timeout_s = timeout_s
        self.retries = retries
        self.log: list[Sample] = []
        self.connection_errors = 0
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._t0 = time.monotonic()
        self._pools: dict[RequestClass, queue.SimpleQueue[_Client]] = {}
        self._clients: list[_Client] = []
        self._executor = ThreadPoolExecutor(concurrency, thread_name_prefix="meshgrade-sampler")
        self._closed = False
        self.progress = progress if progress is not None else Progress()

    # -- sessions -------------------------------------------------------------------------

    def _acquire(self, cls: RequestClass) -> _Client:
        with self._lock:
            pool = self._pools.setdefault(cls, queue.SimpleQueue())
        try:
            return pool.get_nowait()
        except queue.Empty:
            session = requests.Session()
            session.trust_env = False
            session.headers["User-Agent"] = USER_AGENT
            adapter = HTTPAdapter(pool_connections=1, pool_maxsize=1, max_retries=0)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            client = _Client(session)
            with self._lock:
                self._clients.append(client)
            return client

    def _release(self, cls: RequestClass, client: _Client) -> None:
        self._pools[cls].put(client)

    def _next_id(self) -> str:
        with self._lock:
            return f"{self.run_id}-{next(self._ids)}"

    def _backoff(self, attempt: int) -> None:
        with self._lock:
            jitter = self._rng.random()
        time.sleep(BACKOFF_S * (2 ** attempt) * (0.5 + jitter))

    # -- one request ----------------------------------------------------------------------

    def _send(self, client: _Client, cls: RequestClass, request_id: str) -> requests.Response:
        if cls.login and not client.logged_in:
            log_in(client.session, self.base_url, cls.login, referer_path=cls.path,
                   timeout_s=self.timeout_s, request_id=f"{request_id}-login")
            client.logged_in = True
        headers = {**dict(cls.headers), "x-request-id": request_id}
        return client.session.get(f"{self.base_url}{cls.path}", headers=headers,
                                  timeout=self.timeout_s, allow_redirects=False)

    def _one(self, cls: RequestClass, oracle: Oracle) -> Sample:
        request_id = self._next_id()
        client = self._acquire(cls)
        try:
            for attempt in range(self.retries + 1):
                t = time.monotonic()
                try:
                    response = self._send(client, cls, request_id)
                except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError
                        ) as exc:  # refused, reset, or dropped mid-answer: retry
                    with self._lock:
                        self.connection_errors += 1
                    if attempt < self.retries:
                        self._backoff(attempt)
                        continue
                    return self._record(cls, t, request_id, None, f"connection: {exc}",
                                        answer=answers.CONNECTION)
                except requests.Timeout as exc:
                    return self._record(cls, t, request_id, None, f"timeout: {exc}",
                                        answer=answers.TIMEOUT)
                except LoginError as exc:
                    return self._record(cls, t, request_id, exc.status, f"login: {exc}",
                                        answer=answers.LOGIN_FAILED)
                except requests.RequestException as exc:  # anything else at transport level
                    return self._record(cls, t, request_id, None,
                                        f"connection: {type(exc).__name__}: {exc}",
                                        answer=answers.CONNECTION)
                return self._classified(cls, t, request_id, response, oracle)
            raise AssertionError("unreachable")
        finally:
            self._release(cls, client)

    def _classified(self, cls: RequestClass, t: float, request_id: str,
                    response: requests.Response, oracle: Oracle) -> Sample:
        latency = time.monotonic() - t
        try:
            found = oracle.classify(response)
        except Exception as exc:  # an oracle bug must not lose the sample
            found = Classification(None, problems=(f"oracle failed: {exc!r}",))
        status = response.status_code
        kind, error = answers.classify(status, response.headers,
                                       response.text if status >= 400 else "", found)
        version = found.version if error is None else None
        return self._record(cls, t, request_id, status, error, version, found.pod,
                            found.problems, latency, kind)

    def _record(self, cls: RequestClass, t: float, request_id: str, status: int | None,
                error: str | None, version: str | None = None, pod: str | None = None,
                problems: tuple[str, ...] = (), latency: float | None = None,
                answer: str = "") -> Sample:
        if latency is None:
            latency = time.monotonic() - t
        sample = Sample(round(t - self._t0, 4), cls.name, status, version, pod,
                        round(latency * 1000, 2), request_id, error, problems, answer)
        with self._lock:
            self.log.append(sample)
        self.progress.add(cls.name, version)
        return sample

    # -- batches --------------------------------------------------------------------------

    def _submit(self, cls: RequestClass, oracle: Oracle) -> Future[Sample]:
        if self._closed:
            raise RuntimeError("the sampler is closed")
        return self._executor.submit(self._one, cls, oracle)

    def _unreachable(self, samples: list[Sample]) -> GatewayUnreachable:
        return GatewayUnreachable(
            f"{self.base_url} refused all {len(samples)} requests "
            f"({samples[-1].error if samples else 'no answer'})", samples)

    def sample(self, cls: RequestClass, n: int, oracle: Oracle) -> list[Sample]:
        """``n`` requests of ``cls``, at most ``concurrency`` at a time; the samples in the
        order sent. Raises `GatewayUnreachable` as soon as the first wave (``concurrency``
        requests, or all ``n``) has only connection failures."""
        return self._sample(cls, n, oracle, open_ended=False)

    def _sample(self, cls: RequestClass, n: int, oracle: Oracle, *, open_ended: bool
                ) -> list[Sample]:
        self.progress.begin(cls.name, None if open_ended else max(0, n))
        futures = [self._submit(cls, oracle) for _ in range(max(0, n))]
        wave = min(len(futures), self.concurrency)
        done: list[Sample] = []
        try:
            for future in futures:
                done.append(future.result())
                if len(done) == wave and all(s.connection_failed for s in done):
                    raise self._unreachable(done)
        finally:
            for future in futures:
                future.cancel()
        return done

    def stream(self, cls: RequestClass, oracle: Oracle, batch: int = 8) -> Iterator[Sample]:
        """Samples without end, ``batch`` at a time, for sequential tests: the next batch is
        sent only when the consumer asks past the current one, so stopping the iteration stops
        the traffic. Raises `GatewayUnreachable` for a batch of connection failures only."""
        if batch < 1:
            raise ValueError("batch must be >= 1")
        while True:
            yield from self._sample(cls, batch, oracle, open_ended=True)

    # -- lifecycle ------------------------------------------------------------------------

    def close(self) -> None:
        """Wait for running requests, then close every session."""
        self._closed = True
        self._executor.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            clients, self._clients = self._clients, []
        for client in clients:
            client.session.close()
        self.progress.close()

    def __enter__(self) -> Sampler:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
