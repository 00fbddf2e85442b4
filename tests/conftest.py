"""Suite-wide fixtures: the real Kamailio (see tests/kamailio/README.md)."""

from __future__ import annotations

pytest_plugins = ["tests.kamailio.plugin"]
