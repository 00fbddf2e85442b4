"""``python -m exotel_voice.cli``: the same as the ``exotel-voice`` command."""

from __future__ import annotations

from exotel_voice.cli.app import main

__all__: list[str] = []

raise SystemExit(main())
