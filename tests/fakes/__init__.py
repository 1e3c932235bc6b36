"""Loopback fakes of the platforms' HTTP APIs, driven by the real client libraries in tests."""
