"""The delivery benchmark still runs (`python -m bench --quick`): it produces figures and sends nothing twice.

Speed is not asserted here: the figures depend on the machine and its load (bench/README.md has them).
"""

from __future__ import annotations

import math

from bench import delivery


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
    assert "duplicates" in delivery.format_report(report)
