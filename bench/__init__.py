"""Benchmarks (not tests): `python -m bench` runs them all, `python -m bench --quick` is a few-second smoke run."""
