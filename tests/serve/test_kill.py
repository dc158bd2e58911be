"""Durability: a server SIGKILLed in the middle of heavy ingestion has stored every
event it acknowledged with a 2xx (a real ``shopsense serve`` process, real HTTP)."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from shopsense.serve.security import create_api_key
from shopsense.store import open_store

WRITERS = 4
BATCH = 250
ACKED_BEFORE_KILL = 100  # batches (25,000 events)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_ready(port: int, process: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/v1/health/ready")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError("the server did not become ready")


def writer(port: int, token: str, number: int, acked: list[str], stop: threading.Event) -> None:
    """Post batches until the server dies; record the ids of every acknowledged batch."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    ts = datetime.now(UTC).isoformat()
    batch_number = 0
    while not stop.is_set():
        ids = [f"w{number}-b{batch_number}-e{k}" for k in range(BATCH)]
        body = json.dumps(
            {
                "events": [
                    {
                        "event_id": i,
                        "type": "view",
                        "user_id": f"u{k % 97}",
                        "item_id": f"i{k}",
                        "ts": ts,
                    }
                    for k, i in enumerate(ids)
                ]
            }
        )
        try:
            connection.request(
                "POST",
                "/v1/events",
                body=body,
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
            response = connection.getresponse()
            response.read()
        except OSError:
            return  # the server is gone
        if 200 <= response.status < 300:
            acked.extend(ids)
        batch_number += 1


def test_sigkill_during_ingestion_loses_no_acknowledged_event(tmp_path: Path) -> None:
    with open_store(f"duckdb://{tmp_path / 'shopsense.duckdb'}") as store:
        _, token = create_api_key(store, name="kill-test", scopes=["ingest"])
    port = free_port()
    environment = {
        **os.environ,
        "SHOPSENSE_DATA_DIR": str(tmp_path),
        "SHOPSENSE_SERVE__PORT": str(port),
        "SHOPSENSE_SERVE__RETRAIN_EVERY_HOURS": "never",
        "SHOPSENSE_LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-c", "from shopsense.cli import main; main()", "serve"]
    server = subprocess.Popen(
        command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    acked: list[list[str]] = [[] for _ in range(WRITERS)]
    stop = threading.Event()
    try:
        wait_ready(port, server)
        threads = [
            threading.Thread(target=writer, args=(port, token, n, acked[n], stop), daemon=True)
            for n in range(WRITERS)
        ]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 60
        while sum(len(ids) for ids in acked) < ACKED_BEFORE_KILL * BATCH:
            assert time.monotonic() < deadline, "ingestion too slow to reach the kill point"
            assert server.poll() is None, server.stdout.read() if server.stdout else ""
            time.sleep(0.01)
        server.send_signal(signal.SIGKILL)  # mid-stream: requests are in flight
        server.wait(10)
        stop.set()
        for thread in threads:
            thread.join(15)
    finally:
        stop.set()
        if server.poll() is None:
            server.kill()
            server.wait(10)
    acknowledged = {event_id for ids in acked for event_id in ids}
    assert len(acknowledged) >= ACKED_BEFORE_KILL * BATCH
    with open_store(f"duckdb://{tmp_path / 'shopsense.duckdb'}") as store:
        stored = set(store.read_events().column("event_id").to_pylist())
    missing = acknowledged - stored
    assert not missing, f"{len(missing)} acknowledged events were lost, e.g. {sorted(missing)[:3]}"
    # Each batch is all or nothing: no batch is half stored.
    batches = {event_id.rsplit("-e", 1)[0] for event_id in stored}
    for batch in batches:
        assert all(f"{batch}-e{k}" in stored for k in range(BATCH)), batch
