"""What every benchmark records about the machine it ran on."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa


def _gpu() -> str:
    """The CUDA device torch sees, or "none" (the neural models then ran on the CPU)."""
    try:
        import torch  # noqa: PLC0415  # only the benchmarks that train need it
    except ImportError:
        return "none (torch not installed)"
    if not torch.cuda.is_available():
        return "none"
    return f"{torch.cuda.get_device_name(0)} (torch {torch.__version__})"


def machine_description() -> dict[str, str]:
    """CPU, memory and library versions of this machine (Linux /proc where available)."""
    cpu_model = platform.processor() or "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    memory = "unknown"
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    return {
        "cpu": f"{os.cpu_count()} x {cpu_model}",
        "gpu": _gpu(),
        "memory": memory,
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "pyarrow": pa.__version__,
        "duckdb": duckdb.__version__,
    }


def write_results(path: Path, lines: list[str], machine: dict[str, str]) -> None:
    """Write a results page: ``lines`` (markdown), then the machine it was measured on."""
    machine_lines = ["Machine:", "", *(f"- {name}: {value}" for name, value in machine.items())]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([*lines, *machine_lines, ""]))
