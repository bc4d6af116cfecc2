"""backtrader's side of the whole-command comparison: a script that loads minute bars and runs an SMA cross.

Timed from outside as a whole process (interpreter start, imports, loading, run), like
`trading-cluster replay` is; it also reports its own cerebro.run() time.

Run: .venv/bin/python bench/backtrader_replay.py --data FILE.csv [--symbols A,B] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from replay import load_bars, run_backtrader  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--symbols", help="comma-separated (default: every symbol in the file)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    bars = load_bars(args.data, set(args.symbols.split(",")) if args.symbols else None)
    result = run_backtrader(bars)
    print(json.dumps(result) if args.json else f"{result['bars']} bars in {result['wall_seconds']:.2f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
