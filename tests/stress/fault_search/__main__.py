"""``python -m tests.stress.fault_search --seed N | --seeds A..B [--steps K] [--exchange E]``

Runs each seed (see ``runner.py``), prints one line per seed and, for a failing seed, its
violations and the one-line replay command. Exit status 1 when any seed failed.
The interpreter is re-executed with ``PYTHONHASHSEED=0`` so that set and dict orders — and so
the whole run — are the same on every replay.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path


def _seeds(text: str) -> list[int]:
    if ".." in text:
        a, b = text.split("..", 1)
        return list(range(int(a), int(b) + 1))
    return [int(s) for s in text.split(",")]


def _workroot() -> Path:
    shm = Path("/dev/shm")
    base = shm if shm.is_dir() and os.access(shm, os.W_OK) else Path(tempfile.gettempdir())
    return base / f"fault_search-{os.getuid()}"


def main(argv: list[str] | None = None) -> int:
    if os.environ.get("PYTHONHASHSEED") != "0":
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        os.execve(sys.executable, [sys.executable, "-m", "tests.stress.fault_search",
                                   *(sys.argv[1:] if argv is None else argv)], env)
    parser = argparse.ArgumentParser(prog="python -m tests.stress.fault_search")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--seed", type=int)
    group.add_argument("--seeds", help="A..B or a comma-separated list")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--exchange", choices=("paper", "emulator"), default="paper",
                        help="paper: virtual time (default); emulator: ccxt + Binance emulator")
    parser.add_argument("--keep", action="store_true", help="keep the work directories")
    parser.add_argument("--json", action="store_true", help="one JSON object per seed")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)

    from tests.stress.fault_search.runner import run_seed

    seeds = [args.seed] if args.seed is not None else _seeds(args.seeds)
    root = args.workdir or _workroot()
    failed = 0
    for seed in seeds:
        result = run_seed(seed, steps=args.steps, workdir=root / f"seed-{seed}", keep=args.keep,
                          exchange=args.exchange)
        replay = f"python -m tests.stress.fault_search --seed {seed} --steps {args.steps}"
        if args.exchange != "paper":
            replay += f" --exchange {args.exchange}"
        if args.json:
            print(json.dumps({"seed": seed, "clean": result.clean, "summary": result.summary(),
                              "violations": [v.__dict__ for v in result.violations],
                              "replay": replay, "workdir": result.workdir}), flush=True)
            failed += not result.clean
            continue
        print(result.summary(), flush=True)
        if not result.clean:
            failed += 1
            print(f"  {result.scenario}")
            for v in result.violations:
                text = v.message if len(v.message) < 2000 else v.message[-2000:]
                print(f"  step {v.step} [{v.kind}] {text}")
            print(f"  work dir (engine.log, databases): {result.workdir}")
            print(f"  replay: {replay}", flush=True)
    if len(seeds) > 1:
        print(f"{len(seeds) - failed}/{len(seeds)} seeds clean")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
