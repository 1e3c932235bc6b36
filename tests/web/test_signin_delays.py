"""bot/web/signin_delays.py's rules in small: which addresses count together, how the waits grow."""

from __future__ import annotations

from datetime import timedelta

from bot.web.signin_delays import LoginThrottle, address_key


def test_an_ipv6_client_counts_per_64_and_a_mapped_ipv4_as_ipv4() -> None:
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:ffff::9") == "addr:2001:db8:1:2::/64"
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("::ffff:192.0.2.7") == address_key("192.0.2.7") == "addr:192.0.2.7"
    assert address_key("192.0.2.7") != address_key("192.0.2.8")


def test_waits_double_from_the_first_failure_up_to_the_cap() -> None:
    throttle = LoginThrottle(None, delay=1.0, delay_max=60.0, memory=900.0, clock=None)  # type: ignore[arg-type]
    waits = [throttle.wait_after(n) for n in range(0, 9)]
    assert waits == [timedelta(seconds=s) for s in (0, 1, 2, 4, 8, 16, 32, 60, 60)]
    assert throttle.wait_after(10_000) == timedelta(seconds=60)
