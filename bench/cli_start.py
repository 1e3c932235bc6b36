"""How long the command line takes to start: `announce-bot --help` against importing typer and rich alone.

`python -m bench.cli_start [--runs 15]` (from the repository root, with the virtualenv's Python).

Each run is a new process, as a user's command is: the virtualenv's `announce-bot` console script with `--help`,
and `python -c "import typer, rich.console"` (what any typer command line pays before its own code). The two
alternate, one of each per round, so that the machine's other load weighs on both alike; one round first is not
counted (it fills the page cache). Wall time from starting the process to its exit. The figure is the ratio of the
medians. The last lines are `NAME: VALUE (target ...)`.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BASELINE = "import typer, rich.console"


def command_line() -> Path:
    """The console script beside this Python (the virtualenv's bin/)."""
    script = Path(sys.executable).parent / "announce-bot"
    if not script.exists():
        raise SystemExit(f"{script} is missing: run this with the virtualenv's Python (.venv/bin/python -m bench)")
    return script


def timed(command: list[str]) -> float:
    """Seconds from starting `command` to its exit; it must succeed."""
    started = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}: {done.stderr.decode()[-2000:]}")
    return elapsed


def measure(runs: int) -> dict[str, Any]:
    commands = {"help": [str(command_line()), "--help"], "baseline": [sys.executable, "-c", BASELINE]}
    times: dict[str, list[float]] = {"help": [], "baseline": []}
    for index in range(runs + 1):
        order = ("help", "baseline") if index % 2 else ("baseline", "help")
        for name in order:
            elapsed = timed(commands[name])
            if index:
                times[name].append(elapsed)
    help_, baseline = statistics.median(times["help"]), statistics.median(times["baseline"])
    ratio = help_ / baseline
    print(f"{runs} runs of each, alternating, after one to warm up; medians (min-max)")
    for name, label in (("baseline", f'python -c "{BASELINE}"'), ("help", "announce-bot --help")):
        print(f"{label:<45} {statistics.median(times[name]):.3f} s ({min(times[name]):.3f}-{max(times[name]):.3f})")
    print(f"cli_baseline_s: {baseline:.3f} (the baseline)")
    print(f"cli_help_s: {help_:.3f}")
    print(f"cli_start_ratio: {ratio:.2f} (target <= 4)")
    return {"help": times["help"], "baseline": times["baseline"], "ratio": ratio}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench.cli_start", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="processes of each kind (default 15)")
    args = parser.parse_args(argv)
    return measure(args.runs)


if __name__ == "__main__":
    main()
