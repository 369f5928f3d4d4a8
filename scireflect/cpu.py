"""CPU threads for in-process models (llama.cpp, torch): how many physical cores this process may use, and
how many threads to give a model by default on a shared machine."""

from __future__ import annotations

import os
from pathlib import Path

SYS_CPU = Path("/sys/devices/system/cpu")


def _cpus() -> set[int]:
    try:
        return set(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return set(range(os.cpu_count() or 1))


def physical_cores(cpus: set[int] | None = None) -> int:
    """Distinct physical cores among the logical CPUs this process may run on (SMT siblings count once)."""
    cpus = _cpus() if cpus is None else cpus
    cores = set()
    for cpu in cpus:
        topo = SYS_CPU / f"cpu{cpu}" / "topology"
        try:
            cores.add(((topo / "physical_package_id").read_text().strip(), (topo / "core_id").read_text().strip()))
        except OSError:
            cores.add(("cpu", str(cpu)))
    return max(1, len(cores))


def default_threads(cores: int | None = None, load: float | None = None) -> int:
    """CPU threads for an in-process model when ``--threads`` is not given: the physical cores this
    process may use, less the machine's other load (1-minute load average), at least 1.

    More compute threads than free cores make OpenMP threads wait on each other: on a shared 2-core
    machine at load 4 to 8, torch's default of 2 ran ``eval --provider hf`` 15x slower than 1."""
    cores = physical_cores() if cores is None else cores
    if load is None:
        try:
            load = os.getloadavg()[0]
        except OSError:  # pragma: no cover - no load average on this platform
            load = 0.0
    return max(1, min(cores, int(cores - load + 0.5)))
