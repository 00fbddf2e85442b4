"""The ``exotel-voice`` command line: ``demo``, ``phone``, ``devices``, ``call-api``.

Run it as ``exotel-voice ...`` or ``python -m exotel_voice.cli ...``; ``main`` is the
entry point for both (``exotel_voice.cli.app:main``).
"""

from __future__ import annotations

__all__: list[str] = []
