"""An open-loop HTTP/1.1 load generator for the serving benchmark.

Requests are scheduled at ``t0 + i / rate`` whatever happened to the earlier ones (open
loop), and each latency runs from the request's *intended* send time to the last byte of
its response, so a slow server cannot slow the generator down and hide its own queueing
(no coordinated omission; Tene, "How NOT to measure latency", 2015).

    .venv/bin/python benchmarks/_loadgen.py --url http://127.0.0.1:8000/v1/ping \\
        --rate 1000 --duration 5 [--header "Authorization: Bearer ss_..."]

The client is raw ``asyncio.open_connection`` keep-alive connections on uvloop, not
httpx. Measured on this 2-core machine, generator pinned to one core against a trivial
uvloop server on the other: httpx.AsyncClient peaks at about 580 req/s and spends about
1.7 ms of CPU per request; raw streams hold 20,000 req/s (about 35,000 at saturation) and
cost 5 % of a core at 200 req/s (most of it the per-request timer wake-up). The
generator shares the two cores with the server it measures, so what it spends is taken
from the server.

Connections: a pool of ``connections`` keep-alive connections, opened before the clock
starts, each carrying one request at a time. A scheduled request that finds every
connection busy waits in a queue; its latency still counts from its intended time. A
request whose latency would pass ``timeout`` is abandoned and counted as a timeout (so a
saturated server ends the run in bounded time). Bodies are read by Content-Length; a
chunked (or length-less) response stops the run with :class:`LoadGeneratorError`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import socket
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import numpy as np
import numpy.typing as npt

__all__ = [
    "LoadGeneratorError",
    "LoadResult",
    "RequestSpec",
    "ResponseCheck",
    "run_load",
]

MAX_ERROR_SAMPLES = 10
"""Error messages kept per run (the counts by reason are always complete)."""

EARLY_WAKE_S = 0.0005
"""How early the scheduler may send a request: half of the event loop's 1 ms tick."""

ResponseCheck = Callable[["RequestSpec", int, bytes], str | None]
"""``check(request, status, body)`` on every 2xx response: None when the body is right,
else why not (the request then counts as an error)."""


class LoadGeneratorError(RuntimeError):
    """The server spoke HTTP the generator cannot read (chunked or length-less bodies)."""


@dataclass(frozen=True)
class RequestSpec:
    """One request: ``path`` includes the query string; ``kind`` groups the results."""

    method: str
    path: str
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    kind: str = "default"

    def encode(self, host_header: str) -> bytes:
        """The request's bytes on the wire (HTTP/1.1, keep-alive)."""
        lines = [f"{self.method} {self.path} HTTP/1.1", f"Host: {host_header}"]
        lines += [f"{name}: {value}" for name, value in self.headers.items()]
        if self.body is not None:
            lines.append(f"Content-Length: {len(self.body)}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        return head + self.body if self.body is not None else head


@dataclass
class LoadResult:
    """What happened to each scheduled request, in schedule order.

    ``statuses[i]`` is the HTTP status of request ``i`` (0: no response: timeout,
    connection error); ``ok[i]`` is a 2xx that passed the check; ``request_latencies_ms[i]``
    runs from its intended send time to the end of its response (NaN without one);
    ``send_lag_ms[i]`` from the intended to the actual send time (NaN: never sent), the
    generator's own lateness plus the wait for a free connection.
    """

    rate: float
    """Target requests per second."""
    elapsed_s: float
    """From the first intended send to the last response (or abandonment)."""
    kinds: list[str]
    statuses: npt.NDArray[np.int16]
    ok: npt.NDArray[np.bool_]
    request_latencies_ms: npt.NDArray[np.float64]
    send_lag_ms: npt.NDArray[np.float64]
    error_counts: dict[str, int]
    """Errors by reason, e.g. ``{"status 500": 3, "timeout": 1}``."""
    error_samples: list[str]
    cpu_s: float
    """CPU seconds the generator's process used during the run (user + system)."""
    connections: int

    @property
    def scheduled(self) -> int:
        return len(self.kinds)

    @property
    def sent(self) -> int:
        return int(np.count_nonzero(~np.isnan(self.send_lag_ms)))

    @property
    def completed(self) -> int:
        """Requests answered with a 2xx that passed the check."""
        return int(np.count_nonzero(self.ok))

    @property
    def errors(self) -> int:
        """Non-2xx, failed checks, timeouts and connection errors."""
        return self.scheduled - self.completed

    @property
    def latencies_ms(self) -> npt.NDArray[np.float64]:
        """Latencies of the successful requests, in schedule order."""
        return self.request_latencies_ms[self.ok]

    @property
    def achieved_rate(self) -> float:
        """Successful responses per second over the run."""
        return self.completed / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def cpu_share(self) -> float:
        """The generator's CPU time as a share of one core during the run."""
        return self.cpu_s / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def percentile_ms(self, q: float) -> float:
        latencies = self.latencies_ms
        return float(np.percentile(latencies, q)) if latencies.size else float("nan")

    @property
    def p50_ms(self) -> float:
        return self.percentile_ms(50)

    @property
    def p99_ms(self) -> float:
        return self.percentile_ms(99)

    @property
    def max_ms(self) -> float:
        latencies = self.latencies_ms
        return float(latencies.max()) if latencies.size else float("nan")

    def by_kind(self) -> dict[str, LoadResult]:
        """One result per request kind (elapsed time and CPU are the whole run's)."""
        kinds = np.asarray(self.kinds)
        results: dict[str, LoadResult] = {}
        for kind in dict.fromkeys(self.kinds):
            mask = kinds == kind
            errors: Counter[str] = Counter()
            for index in np.flatnonzero(mask & ~self.ok):
                errors[_reason_of(int(self.statuses[index]))] += 1
            results[kind] = LoadResult(
                rate=self.rate * float(mask.mean()),
                elapsed_s=self.elapsed_s,
                kinds=[kind] * int(mask.sum()),
                statuses=self.statuses[mask],
                ok=self.ok[mask],
                request_latencies_ms=self.request_latencies_ms[mask],
                send_lag_ms=self.send_lag_ms[mask],
                error_counts=dict(errors),
                error_samples=[s for s in self.error_samples if s.startswith(f"[{kind}]")],
                cpu_s=self.cpu_s,
                connections=self.connections,
            )
        return results

    def summary(self) -> str:
        return (
            f"{self.completed}/{self.scheduled} ok at {self.achieved_rate:,.1f}/s "
            f"(target {self.rate:,.1f}/s), p50 {self.p50_ms:.2f} ms, p99 {self.p99_ms:.2f} ms, "
            f"max {self.max_ms:.2f} ms, errors {self.errors} {self.error_counts or ''}, "
            f"generator CPU {self.cpu_share:.1%} of a core"
        )


def _reason_of(status: int) -> str:
    # Only used to rebuild per-kind counts: 0 covers timeouts and connection errors,
    # a 2xx here is one that failed the check.
    if status == 0:
        return "no response"
    if 200 <= status < 300:
        return "bad body"
    return f"status {status}"


class _Connection:
    """One keep-alive connection; ``request`` sends and reads one exchange."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.used = False

    @classmethod
    async def open(cls, host: str, port: int) -> _Connection:
        reader, writer = await asyncio.open_connection(host, port)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            # Small requests must leave at once, not wait for Nagle's timer.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()

    async def exchange(self, data: bytes, spec: RequestSpec) -> tuple[int, bytes, bool]:
        """(status, body, keep) for the request ``data``; ``keep`` False: close after."""
        self.used = True
        self.writer.write(data)
        await self.writer.drain()
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, _, header_block = head.partition(b"\r\n")
        status = int(status_line.split(b" ", 2)[1])
        content_length: int | None = None
        keep = True
        for line in header_block.split(b"\r\n"):
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                content_length = int(value)
            elif name == b"transfer-encoding":
                raise LoadGeneratorError(
                    f"{spec.method} {spec.path} answered with Transfer-Encoding "
                    f"{value.strip().decode()!r}; the generator reads Content-Length bodies only"
                )
            elif name == b"connection" and value.strip().lower() == b"close":
                keep = False
        if content_length is None:
            if status in (204, 304) or 100 <= status < 200 or spec.method == "HEAD":
                return status, b"", keep
            raise LoadGeneratorError(
                f"{spec.method} {spec.path} answered {status} without Content-Length"
            )
        body = await self.reader.readexactly(content_length) if content_length else b""
        return status, body, keep


async def _run(
    host: str,
    port: int,
    requests: Sequence[RequestSpec],
    rate: float,
    *,
    connections: int,
    timeout: float,
    check: ResponseCheck | None,
) -> LoadResult:
    n = len(requests)
    host_header = f"{host}:{port}"
    wire = [spec.encode(host_header) for spec in requests]
    statuses = np.zeros(n, dtype=np.int16)
    ok = np.zeros(n, dtype=np.bool_)
    latencies = np.full(n, np.nan)
    send_lag = np.full(n, np.nan)
    errors: Counter[str] = Counter()
    samples: list[str] = []

    def fail(index: int, reason: str, detail: str) -> None:
        errors[reason] += 1
        if len(samples) < MAX_ERROR_SAMPLES:
            samples.append(f"[{requests[index].kind}] {requests[index].path[:120]}: {detail}")

    # Open the pool before the clock starts: connecting is not part of any latency
    # (unless a connection must be re-opened mid-run, which then counts).
    pool: list[_Connection | None] = []
    for _ in range(connections):
        try:
            pool.append(await _Connection.open(host, port))
        except OSError:
            pool.append(None)

    queue: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()
    clock = time.perf_counter
    t0 = clock() + 0.01
    last_done = t0

    async def worker(slot: int) -> None:
        nonlocal last_done
        connection = pool[slot]
        while True:
            item = await queue.get()
            if item is None:
                if connection is not None:
                    connection.close()
                return
            index, intended = item
            spec = requests[index]
            sent_at = intended
            budget = intended + timeout - clock()
            if budget <= 0:
                fail(index, "timeout", f"waited over {timeout:g} s for a free connection")
                last_done = max(last_done, clock())
                continue
            # A reused connection the server closed while idle (keep-alive expiry) fails
            # before any response byte; then the request goes once more on a new one.
            for attempt in range(2):
                fresh = connection is None or not connection.used
                try:
                    async with asyncio.timeout(budget):
                        if connection is None or connection.reader.at_eof():
                            if connection is not None:
                                connection.close()
                            connection = await _Connection.open(host, port)
                            fresh = True
                        if np.isnan(send_lag[index]):
                            sent_at = clock()
                            send_lag[index] = (sent_at - intended) * 1000.0
                        status, body, keep = await connection.exchange(wire[index], spec)
                    done = clock()
                except TimeoutError:
                    fail(index, "timeout", f"no response within {timeout:g} s")
                    if connection is not None:
                        connection.close()
                    connection = None
                    last_done = max(last_done, clock())
                    break
                except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as error:
                    if connection is not None:
                        connection.close()
                    connection = None
                    stale = isinstance(error, asyncio.IncompleteReadError) and not error.partial
                    if attempt == 0 and not fresh and (stale or isinstance(error, OSError)):
                        budget = intended + timeout - clock()
                        if budget > 0:
                            continue
                    fail(index, "connection", f"{type(error).__name__}: {error}")
                    last_done = max(last_done, clock())
                    break
                statuses[index] = status
                latencies[index] = (done - min(intended, sent_at)) * 1000.0
                last_done = max(last_done, done)
                if not keep:
                    connection.close()
                    connection = None
                if not 200 <= status < 300:
                    fail(index, f"status {status}", f"{status} {body[:200]!r}")
                elif check is not None and (problem := check(spec, status, body)) is not None:
                    fail(index, "bad body", problem)
                else:
                    ok[index] = True
                break

    async def scheduler() -> None:
        for index in range(n):
            intended = t0 + index / rate
            # The loop's timers tick in milliseconds: waking half a tick early centres
            # the send times on the intended ones instead of always landing late (a
            # request sent early is timed from its actual send, see the worker).
            delay = intended - clock() - EARLY_WAKE_S
            if delay > 0:
                await asyncio.sleep(delay)
            queue.put_nowait((index, intended))
        for _ in range(connections):
            queue.put_nowait(None)

    cpu_started = time.process_time()
    async with asyncio.TaskGroup() as group:
        for slot in range(connections):
            group.create_task(worker(slot))
        group.create_task(scheduler())
    cpu_s = time.process_time() - cpu_started
    return LoadResult(
        rate=rate,
        elapsed_s=max(last_done - t0, 1e-9),
        kinds=[spec.kind for spec in requests],
        statuses=statuses,
        ok=ok,
        request_latencies_ms=latencies,
        send_lag_ms=send_lag,
        error_counts=dict(errors),
        error_samples=samples,
        cpu_s=cpu_s,
        connections=connections,
    )


def _event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    try:
        import uvloop  # noqa: PLC0415  # optional: about twice as fast as the default loop
    except ImportError:
        return asyncio.new_event_loop
    return uvloop.new_event_loop


def run_load(
    host: str,
    port: int,
    make_request: Callable[[int], RequestSpec],
    rate: float,
    duration: float,
    *,
    connections: int = 64,
    timeout: float = 5.0,
    check: ResponseCheck | None = None,
) -> LoadResult:
    """Send ``round(rate * duration)`` requests ``make_request(0), make_request(1), ...``
    to ``host:port`` at ``rate`` per second, open loop, and measure each one.

    Every request is built (and encoded) before the clock starts, so building them costs
    the measured run nothing. ``check`` sees every 2xx response (see
    :data:`ResponseCheck`). Raises :class:`LoadGeneratorError` when the server sends a
    body the generator cannot delimit; everything else the server does is counted.
    """
    if rate <= 0 or duration <= 0 or connections < 1 or timeout <= 0:
        raise ValueError("rate, duration, connections and timeout must be positive")
    n = max(1, round(rate * duration))
    requests = [make_request(index) for index in range(n)]
    # A collection in the middle of the run would pause the generator for milliseconds
    # and show up as server latency.
    gc.collect()
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        with asyncio.Runner(loop_factory=_event_loop_factory()) as runner:
            try:
                return runner.run(
                    _run(
                        host,
                        port,
                        requests,
                        rate,
                        connections=connections,
                        timeout=timeout,
                        check=check,
                    )
                )
            except* LoadGeneratorError as group:
                raise group.exceptions[0] from None
    finally:
        if gc_was_enabled:
            gc.enable()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="e.g. http://127.0.0.1:8000/v1/ping")
    parser.add_argument("--rate", type=float, required=True, help="Requests per second.")
    parser.add_argument("--duration", type=float, default=10.0, help="Seconds.")
    parser.add_argument("--method", default="GET")
    parser.add_argument("--body", default=None, help="Request body (text).")
    parser.add_argument("--header", action="append", default=[], help="'Name: value'.")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--timeout", type=float, default=5.0)
    args = parser.parse_args()
    url = urlsplit(args.url)
    if url.scheme != "http" or url.hostname is None:
        parser.error("--url must be http://HOST[:PORT]/PATH")
    path = url.path or "/"
    if url.query:
        path += f"?{url.query}"
    headers = {
        name.strip(): value.strip()
        for name, _, value in (header.partition(":") for header in args.header)
    }
    body = args.body.encode() if args.body is not None else None
    spec = RequestSpec(args.method, path, body, headers)
    result = run_load(
        url.hostname,
        url.port or 80,
        lambda _: spec,
        args.rate,
        args.duration,
        connections=args.connections,
        timeout=args.timeout,
    )
    print(result.summary())
    lag = result.send_lag_ms[~np.isnan(result.send_lag_ms)]
    if lag.size:
        print(f"send lag p50 {np.percentile(lag, 50):.2f} ms, p99 {np.percentile(lag, 99):.2f} ms")
    for line in result.error_samples:
        print(f"  {line}")


if __name__ == "__main__":
    main()
