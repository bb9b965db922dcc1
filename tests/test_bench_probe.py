"""The soak's memory probe (bench/probe/sitecustomize.py) and its summary (bench/probe_report.py)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"

# Stands in for `alephee serve`: the probe starts by the command's first argument, and the script keeps an engine
# and a growing list alive so that the caches and the types are seen.
PROCESS = """
import time
from sqlalchemy import create_engine, text
engine = create_engine("sqlite://")
with engine.connect() as conn:
    conn.execute(text("select 1"))
class Kept:
    pass
kept = []
for _ in range(40):
    kept.extend(Kept() for _ in range(50))
    time.sleep(0.05)
"""


def load_report() -> ModuleType:
    spec = importlib.util.spec_from_file_location("probe_report", BENCH / "probe_report.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_probed(tmp_path: Path, command: str, **extra: str) -> list[dict]:
    script = tmp_path / "process.py"
    script.write_text(PROCESS)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(BENCH / "probe"), os.environ.get("PYTHONPATH", "")]),
        "ALEPHEE_BENCH_PROBE_DIR": str(tmp_path),
        "ALEPHEE_BENCH_PROBE_EVERY": "0.2",
        "ALEPHEE_BENCH_PROBE_DEEP_EVERY": "3",
        **extra,
    }
    subprocess.run([sys.executable, str(script), command], env=env, check=True, timeout=60)
    return [json.loads(line) for path in tmp_path.glob("*.jsonl") for line in path.read_text().splitlines()]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc and glibc")
def test_the_probe_records_memory_caches_and_the_types_that_grow(tmp_path: Path) -> None:
    records = run_probed(tmp_path, "serve")
    assert [p.name.split("-")[0] for p in tmp_path.glob("*.jsonl")] == ["serve"]
    assert len(records) >= 6
    first = records[0]
    assert {"t", "rss_kb", "anon_kb", "blocks", "threads"} <= first.keys()
    assert first["rss_kb"] > 0
    deep = [r for r in records if "types" in r]
    assert len(deep) >= 2
    assert deep[-1]["caches"]["sqlalchemy_compiled"] == [1]  # the one statement the engine compiled
    assert deep[-1]["pymalloc"]["arenas"] > 0
    summary = load_report().summarise_process(records, [0, 0.01], top=5)
    assert summary["samples"] == len(records)
    grown = summary["deep"]["types_grown"]
    assert "__main__.Kept" in grown and grown["__main__.Kept"] > 0
    assert list(grown) == sorted(grown, key=lambda name: -grown[name])


def test_the_probe_keeps_the_network_guard_it_would_hide(tmp_path: Path) -> None:
    """The probe's sitecustomize comes first on the path; the suite's guard (the next one) still runs after it."""
    script = tmp_path / "reach.py"
    script.write_text("import socket\nsocket.getaddrinfo('api.mercadolibre.com', 443)\n")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(BENCH / "probe"), os.environ["PYTHONPATH"]]),
        "ALEPHEE_BENCH_PROBE_DIR": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, str(script), "serve"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode != 0 and "not loopback" in done.stderr


def test_the_probe_stays_out_of_other_commands(tmp_path: Path) -> None:
    assert run_probed(tmp_path, "demo") == []


def test_slopes_and_readings_at_the_minutes_asked() -> None:
    report = load_report()
    # 0.5 MiB a minute in the first half, flat in the second.
    records = [{"t": t, "rss_kb": 1024 * (100 + min(t, 600) / 120), "heap_used": 0} for t in range(0, 1230, 30)]
    summary = report.summarise_process(records, [1, 10, 30], top=5)
    assert [row["minute"] for row in summary["at"]] == [1.0, 10.0]
    assert summary["slope_mib_per_min"]["first_half"]["rss"] == pytest.approx(0.5)
    assert summary["slope_mib_per_min"]["second_half"]["rss"] == pytest.approx(0.0, abs=0.02)
    assert report.summarise_process([], [1], top=5) == {"samples": 0}
