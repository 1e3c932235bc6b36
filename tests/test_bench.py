"""The benchmarks still run (`python -m bench --quick`): they produce figures and send nothing twice.

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
