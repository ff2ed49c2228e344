"""``make bench`` / ``python -m ops.bench [name ...]``: run every benchmark and print one table.

Each ``ops/bench/bench_*.py`` module exposes ``run() -> dict[str, float]``; the table lists every
figure it returns. Benchmarks are run by hand, never by ``make test``: their targets are checked
here, not by timed tests.
"""

import importlib
import pkgutil
import platform
import sys
import time

import ops.bench


def _modules(selected: list[str]) -> list[str]:
    names = sorted(m.name for m in pkgutil.iter_modules(ops.bench.__path__)
                   if m.name.startswith("bench_"))
    return [n for n in names if not selected or n in selected or n[6:] in selected]


def main(argv: list[str]) -> int:
    rows: list[tuple[str, str, float]] = []
    failed = []
    for name in _modules(argv):
        started = time.monotonic()
        print(f"running {name} ...", file=sys.stderr, flush=True)
        try:
            figures = importlib.import_module(f"ops.bench.{name}").run()
        except Exception as e:  # one broken benchmark must not hide the others' figures
            failed.append(f"{name}: {type(e).__name__}: {e}")
            continue
        rows += [(name[6:], metric, value) for metric, value in figures.items()]
        print(f"  done in {time.monotonic() - started:.1f} s", file=sys.stderr)
    print(f"\nmachine: {platform.machine()} {platform.processor() or ''}, "
          f"python {platform.python_version()}, {sys.platform}")
    width = max((len(f"{b}.{m}") for b, m, _ in rows), default=10)
    for bench, metric, value in rows:
        print(f"{bench + '.' + metric:<{width}}  {value:>12.4g}")
    for line in failed:
        print(f"FAILED {line}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
