"""The serving benchmark's load generator (benchmarks/_loadgen.py) against a tiny
FastAPI app served by uvicorn in a subprocess (a separate process, as in the benchmark)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from _loadgen import LoadGeneratorError, RequestSpec, run_load

APP = textwrap.dedent(
    """
    import asyncio

    from fastapi import FastAPI, Header, HTTPException, Request
    from fastapi.responses import JSONResponse, StreamingResponse

    app = FastAPI()

    @app.get("/ok")
    async def ok() -> dict:
        return {"rec_id": "r", "items": ["a", "b"]}

    @app.get("/no-items")
    async def no_items() -> dict:
        return {"rec_id": "r"}

    @app.get("/slow")
    async def slow() -> dict:
        await asyncio.sleep(0.05)
        return {"items": []}

    @app.get("/hang")
    async def hang() -> dict:
        await asyncio.sleep(3)
        return {"items": []}

    @app.get("/fail")
    async def fail() -> JSONResponse:
        return JSONResponse({"detail": "boom"}, status_code=500)

    @app.get("/chunked")
    async def chunked() -> StreamingResponse:
        return StreamingResponse(iter([b"a", b"b"]))

    @app.post("/events")
    async def events(request: Request, authorization: str = Header("")) -> dict:
        if authorization != "Bearer secret":
            raise HTTPException(401)
        body = await request.json()
        return {"accepted": len(body["events"])}
    """
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """The app's port; keep-alive connections expire after 1 s idle."""
    directory = tmp_path_factory.mktemp("app")
    (directory / "tiny_app.py").write_text(APP)
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "tiny_app:app",
            "--app-dir",
            str(directory),
            "--port",
            str(port),
            "--timeout-keep-alive",
            "1",
            "--log-level",
            "warning",
        ],
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail("the tiny app did not start")
            time.sleep(0.05)
    yield port
    process.terminate()
    process.wait(timeout=10)


def get(path: str, kind: str = "default") -> RequestSpec:
    return RequestSpec("GET", path, kind=kind)


def test_fixed_rate_every_request_answered(server: int) -> None:
    result = run_load("127.0.0.1", server, lambda _: get("/ok"), rate=200, duration=0.5)
    assert result.scheduled == result.sent == result.completed == 100
    assert result.errors == 0 and result.error_counts == {}
    assert result.latencies_ms.shape == (100,)
    assert 0 < result.p50_ms <= result.p99_ms <= result.max_ms
    # Open loop at a fixed rate: 100 requests spread over half a second.
    assert 0.45 < result.elapsed_s < 1.0
    assert 100 < result.achieved_rate < 230
    assert np.all(np.abs(result.send_lag_ms) < 50)
    assert result.cpu_s > 0


def test_latency_counts_from_the_intended_time(server: int) -> None:
    """One connection, 50 ms per request, 100 requests/s asked: a closed-loop client
    would report 50 ms; the queue behind the slow server must show in the latencies."""
    result = run_load(
        "127.0.0.1", server, lambda _: get("/slow"), rate=100, duration=0.2, connections=1
    )
    assert result.completed == 20
    latencies = result.latencies_ms
    assert latencies[0] < 200
    # Request 19 was due at 190 ms but could only start after 19 x 50 ms = 950 ms.
    assert latencies[-1] > 700
    assert np.all(np.diff(latencies) > 0)
    assert np.nanmax(result.send_lag_ms) > 700


def test_errors_are_counted_by_reason(server: int) -> None:
    result = run_load("127.0.0.1", server, lambda _: get("/fail"), rate=100, duration=0.1)
    assert result.completed == 0 and result.errors == 10
    assert result.error_counts == {"status 500": 10}
    assert "500" in result.error_samples[0]
    assert np.isnan(result.p50_ms)


def test_timeouts_end_the_run_in_bounded_time(server: int) -> None:
    started = time.perf_counter()
    result = run_load(
        "127.0.0.1",
        server,
        lambda _: get("/hang"),
        rate=20,
        duration=0.5,
        connections=2,
        timeout=0.3,
    )
    assert time.perf_counter() - started < 3
    assert result.errors == 10
    assert result.error_counts == {"timeout": 10}


def test_connection_refused_is_an_error_not_a_crash() -> None:
    result = run_load("127.0.0.1", free_port(), lambda _: get("/ok"), rate=50, duration=0.1)
    assert result.completed == 0 and result.sent == 0  # no connection, nothing sent
    assert result.error_counts == {"connection": 5}


def test_check_rejects_a_2xx_without_items(server: int) -> None:
    def check(_: RequestSpec, status: int, body: bytes) -> str | None:
        return None if "items" in json.loads(body) else f"{status} without items"

    paths = ["/ok", "/no-items"]
    result = run_load(
        "127.0.0.1",
        server,
        lambda i: get(paths[i % 2], kind=paths[i % 2]),
        rate=100,
        duration=0.2,
        check=check,
    )
    assert result.completed == 10 and result.error_counts == {"bad body": 10}
    by_kind = result.by_kind()
    assert by_kind["/ok"].completed == 10 and by_kind["/ok"].errors == 0
    assert by_kind["/no-items"].completed == 0 and by_kind["/no-items"].errors == 10
    assert by_kind["/no-items"].error_samples[0].startswith("[/no-items]")
    assert by_kind["/ok"].rate == pytest.approx(50)


def test_post_with_headers_and_body(server: int) -> None:
    body = json.dumps({"events": [{"event_id": str(k)} for k in range(100)]}).encode()
    headers = {"Authorization": "Bearer secret", "Content-Type": "application/json"}
    result = run_load(
        "127.0.0.1",
        server,
        lambda _: RequestSpec("POST", "/events", body, headers),
        rate=50,
        duration=0.2,
    )
    assert result.completed == 10
    unauthorised = run_load(
        "127.0.0.1",
        server,
        lambda _: RequestSpec("POST", "/events", body),
        rate=50,
        duration=0.1,
    )
    assert unauthorised.error_counts == {"status 401": 5}


def test_connections_closed_by_the_server_while_idle_are_reopened(server: int) -> None:
    """The app closes keep-alive connections idle for 1 s; with 3 connections at 2
    requests/s each one idles 1.5 s between requests."""
    result = run_load("127.0.0.1", server, lambda _: get("/ok"), rate=2, duration=3, connections=3)
    assert result.errors == 0, result.error_samples
    assert result.completed == 6


def test_a_chunked_response_stops_the_run(server: int) -> None:
    with pytest.raises(LoadGeneratorError, match="Content-Length"):
        run_load("127.0.0.1", server, lambda _: get("/chunked"), rate=20, duration=0.1)
