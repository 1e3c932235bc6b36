"""`python -m bench [--quick] [NAME ...]`: the benchmarks, one after the other (see bench/README.md).

With no NAME, all of them: delivery (~1 min), chat_latency (~1 min), chat_broadcast (20,000 reminders at a
1,000/s ceiling: twice against a bare loop twice, then once killed and resumed, ~5 min), web (~10 s), soak
(240 posts with faults and SIGKILLs: ~5 min), memory (peak RSS of `python -m bot run` with 1,000 events and
20,000 subscribers, ~2.5 min), cli_start (`announce-bot --help` against importing typer and rich, 15 processes
each, ~20 s). `--quick` runs each at a tiny size, in a few seconds, to check that it still
works. Each ends with one `NAME: VALUE (target ...)` line per figure.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable

# name -> (arguments of the full run, arguments of the quick run); each module has main(argv).
BENCHMARKS: dict[str, tuple[list[str], list[str]]] = {
    "delivery": ([], ["--quick"]),
    "chat_latency": ([], ["--queries", "20", "--events", "50"]),
    "chat_broadcast": ([], ["--subscribers", "300", "--rounds", "1"]),
    "web": ([], ["--requests", "50", "--old-requests", "3"]),
    "soak": ([], ["--quick"]),
    "memory": ([], ["--events", "20", "--subscribers", "200", "--hold", "2"]),
    "cli_start": ([], ["--runs", "2"]),
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks that the benchmarks still run")
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"any of: {', '.join(BENCHMARKS)} (default: all)")
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    for index, name in enumerate(args.names or BENCHMARKS):
        full, quick = BENCHMARKS[name]
        if index:
            print(flush=True)
        print(f"#### bench.{name}{' (quick)' if args.quick else ''}", flush=True)
        run: Callable[[list[str]], object] = importlib.import_module(f"bench.{name}").main
        run(quick if args.quick else full)


if __name__ == "__main__":
    main()
