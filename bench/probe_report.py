"""Summarise what ``bench/probe/sitecustomize.py`` recorded in each server or worker of a soak.

    .venv/bin/python bench/probe_report.py bench/out/probe-<pid> [--at 1,10,30,60,120] [--top 15]

For every process: memory at the given minutes (RSS, anonymous RSS, glibc heap held / in use / free, malloc
arenas, pymalloc blocks), the least-squares slope of RSS and of the heap in use in each half of the run, at each
deep sample what the process holds from the system (pymalloc's arenas, glibc's heaps) and what the libraries'
caches hold, and the object types that grew most from the first deep sample to the last. ``bench/soak.py --probe``
puts the same summary in its report.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

MIB = 1024 * 1024
MINUTES = "1,10,30,60,120,240"  # the readings shown unless asked otherwise


def slope_per_min(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MiB) samples, in MiB per minute (0 with fewer than two distinct times)."""
    if len(samples) < 2:
        return 0.0
    mx = sum(t for t, _ in samples) / len(samples)
    my = sum(v for _, v in samples) / len(samples)
    den = sum((t - mx) ** 2 for t, _ in samples)
    return 60 * sum((t - mx) * (v - my) for t, v in samples) / den if den else 0.0


def _at(records: list[dict[str, Any]], minute: float) -> dict[str, Any] | None:
    """The first record at or after ``minute``."""
    return next((r for r in records if r["t"] >= minute * 60), None)


def _memory(record: dict[str, Any]) -> dict[str, float | int | None]:
    def mib(key: str, scale: int) -> float | None:
        return round(record[key] * scale / MIB, 1) if key in record else None

    return {
        "minute": round(record["t"] / 60, 1),
        "rss_mib": mib("rss_kb", 1024),
        "anon_mib": mib("anon_kb", 1024),
        "heap_mib": mib("heap", 1),
        "heap_used_mib": mib("heap_used", 1),
        "heap_free_mib": mib("heap_free", 1),
        "heaps": record.get("heaps"),
        "pymalloc_blocks": record.get("blocks"),
    }


def summarise_process(records: list[dict[str, Any]], minutes: list[float], top: int) -> dict[str, Any]:
    """The summary of one process's records (see the module's docstring)."""
    if not records:
        return {"samples": 0}
    end = records[-1]["t"]
    halves = [r for r in records if r["t"] < end / 2], [r for r in records if r["t"] >= end / 2]
    out: dict[str, Any] = {
        "samples": len(records),
        "minutes": round(end / 60, 1),
        "at": [_memory(r) for m in minutes if (r := _at(records, m)) is not None and r["t"] <= end],
        "last": _memory(records[-1]),
        "slope_mib_per_min": {
            name: {
                "rss": round(slope_per_min([(r["t"], r["rss_kb"] / 1024) for r in half]), 3),
                "heap_used": round(
                    slope_per_min([(r["t"], r["heap_used"] / MIB) for r in half if "heap_used" in r]), 3
                ),
            }
            for name, half in zip(("first_half", "second_half"), halves, strict=True)
        },
    }
    deep = [r for r in records if "types" in r]
    if len(deep) >= 2:
        first, last = deep[0], deep[-1]
        grown = {
            name: count - first["types"].get(name, 0)
            for name, count in last["types"].items()
            if count - first["types"].get(name, 0) > 0
        }
        out["deep"] = {
            "from_minute": round(first["t"] / 60, 1),
            "to_minute": round(last["t"] / 60, 1),
            # What the process holds from the system, apart from file mappings and stacks: pymalloc's arenas
            # (1 MiB each on CPython 3.10+, mapped on their own) and glibc's heaps (held, resident or not).
            "held": [
                {
                    "minute": round(r["t"] / 60, 1),
                    "objects": r["objects"],
                    "pymalloc_arenas": (r.get("pymalloc") or {}).get("arenas"),
                    "pymalloc_used_mib": round((r.get("pymalloc") or {}).get("used_bytes", 0) / MIB, 1),
                    "heap_mib": round(r["heap"] / MIB, 1) if "heap" in r else None,
                    "rss_mib": round(r["rss_kb"] / 1024, 1),
                    **(r.get("caches") or {}),
                }
                for r in deep
            ],
            "types_grown": dict(sorted(grown.items(), key=lambda kv: -kv[1])[:top]),
        }
    return out


def summarise(directory: Path, minutes: list[float] | None = None, top: int = 15) -> dict[str, Any]:
    """Every process's summary in ``directory``, by file name (``<role>-<pid>``)."""
    minutes = minutes or [float(m) for m in MINUTES.split(",")]
    out = {}
    for path in sorted(directory.glob("*.jsonl")):
        records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        out[path.stem] = summarise_process(records, minutes, top)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("directory", type=Path)
    parser.add_argument("--at", default=MINUTES, help="Minutes to show (comma-separated).")
    parser.add_argument("--top", type=int, default=15, help="How many grown object types to list.")
    args = parser.parse_args()
    summary = summarise(args.directory, [float(m) for m in args.at.split(",")], args.top)
    if not summary:
        print(f"no probe records in {args.directory}", file=sys.stderr)
        return 1
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
