"""What several steps do alike: wait for a moment with progress, and put DNS back as it was."""

from __future__ import annotations

import time

from toolkit.migration.context import MigrationContext


def wait_until(ctx: MigrationContext, step: str, due: float, why: str) -> None:
    """Sleep until ``due`` (epoch seconds), telling the run how long is left; at once if it passed."""
    while (left := due - time.time()) > 0:
        ctx.run.progress(step, why, eta=round(left, 1))
        time.sleep(min(left, 1.0))


def put_dns_back(ctx: MigrationContext) -> None:
    """Every provider (and the delegation) as the run saved them before the first DNS change."""
    if ctx.dns is None:
        return
    from toolkit.dns import cutover

    before = cutover.load_before(ctx.run)
    if before is not None:
        cutover.rollback_to(ctx.dns, before)
