"""The command-line frame every benchmark shares: its own options plus ``--json`` and ``--out``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def parse_args(doc: str, options: dict[str, dict]) -> argparse.Namespace:
    """Parse ``options`` (flag -> ``add_argument`` keywords) plus ``--json`` and ``--out FILE``."""
    parser = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    for flag, keywords in options.items():
        parser.add_argument(flag, **keywords)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--out", type=Path, help="also write the JSON report to this file")
    return parser.parse_args()


def emit(report: dict, args: argparse.Namespace) -> bool:
    """Write ``--out`` and print JSON for ``--json``; True when the caller should print its table."""
    if args.out:
        args.out.write_text(json.dumps(report, indent=2))
    if args.json:
        print(json.dumps(report, indent=2))
        return False
    return True
