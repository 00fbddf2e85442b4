"""Benchmarks, run side by side with peer libraries in one process: ``python -m benchmarks``.

Not timed tests: nothing here fails a build. ``nox -s bench`` runs them with the ``bench``
dependency group (the peers) installed; results are printed and written as JSON under
``benchmarks/results/`` (git-ignored).
"""

from __future__ import annotations

__all__: list[str] = []
