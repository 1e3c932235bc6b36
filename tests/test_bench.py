"""The benchmarks still run (`python -m bench --quick`): they produce figures and send nothing twice.

Speed is not asserted here: the figures depend on the machine and its load (bench/README.md has them).
"""

from __future__ import annotations

import math
import re

import pytest

from bench import delivery

pytestmark = pytest.mark.slow  # the benchmarks at their quick sizes: processes and thousands of messages


def test_delivery_bench_quick_mode_produces_figures_without_duplicates() -> None:
    report = delivery.run(delivery.QUICK)
    posts = delivery.QUICK.posts
    for lateness in (report.lateness, report.lateness_limited):
        assert lateness.delivered.received == posts and lateness.delivered.missing == 0
        assert lateness.failed == 0
        assert all(math.isfinite(v) for v in (lateness.p50, lateness.p99, lateness.max, lateness.recorded_p99))
        assert lateness.first <= lateness.p50 <= lateness.p99 <= lateness.max
    throughput = report.throughput
    assert throughput.failed == 0
    assert all(d.received == posts and d.missing == 0 for d in throughput.delivered)
    assert throughput.bare_rate > 0 and throughput.pipeline_rate > 0 and throughput.ratio > 0
    assert report.duplicates == 0
    assert "delivery_duplicates: 0 (target 0)" in delivery.format_report(report)


def test_broadcast_bench_quick_mode_sends_everyone_once_even_after_a_crash() -> None:
    from bench import chat_broadcast

    report = chat_broadcast.main(["--subscribers", "120", "--rounds", "1"])
    assert report["bare"].messages == report["broadcast"].messages == 120
    assert report["broadcast"].duplicates == report["crash"].duplicates == 0
    assert report["broadcast"].states == {"sent": 120}
    crash = report["crash"].states
    assert crash.get("sent", 0) + crash.get("unknown", 0) == 120 and report["crash"].messages >= crash["sent"]
    assert report["ratio"] > 0


def test_web_bench_quick_mode_compares_the_page_with_the_bare_route() -> None:
    from bench import web

    report = web.main(["--requests", "20", "--old-requests", "2"])
    assert all(math.isfinite(report[name][key]) and report[name][key] > 0
               for name in ("bare", "page", "without_nodelay") for key in ("p50", "p99"))


def test_memory_bench_quick_mode_measures_run_and_stops_it_cleanly(capsys: pytest.CaptureFixture[str]) -> None:
    from bench import memory
    from bench.__main__ import BENCHMARKS

    report = memory.main(BENCHMARKS["memory"][1])  # what `python -m bench --quick memory` runs
    printed = capsys.readouterr().out
    peak = re.search(r"^peak_rss_mb: ([0-9.]+) \(", printed, re.MULTILINE)
    assert peak is not None and float(peak.group(1)) > 0, printed
    assert re.search(r"^rss_at_end_mb: [0-9.]+ \(", printed, re.MULTILINE), printed
    assert report["exit_code"] == 0, report["output"]
    assert report["answered"] == memory.ASKS  # the chat bot ran against the fake and answered /next
    assert report["chat"]["running"] and report["peak_rss_mb"] >= report["rss_at_end_mb"] > 0


def test_cli_start_bench_quick_mode_times_the_command_line_against_typer_and_rich(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bench import cli_start
    from bench.__main__ import BENCHMARKS

    report = cli_start.main(BENCHMARKS["cli_start"][1])  # what `python -m bench --quick cli_start` runs
    printed = capsys.readouterr().out
    ratio = re.search(r"^cli_start_ratio: ([0-9.]+) \(target <= 4\)$", printed, re.MULTILINE)
    assert ratio is not None and float(ratio.group(1)) > 0, printed
    assert len(report["help"]) == len(report["baseline"]) == 2 and min(report["help"] + report["baseline"]) > 0
