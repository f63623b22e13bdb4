"""``--deadline``: when the migration must be done, as a time of day, a date and time, or a duration.

Accepted: ``18:00`` (today, or tomorrow if past), ``2026-11-23T18:00`` or with a zone offset
(ISO 8601), and ``+90m`` / ``+2h`` / ``+1h30m`` from now. Times without a zone are local.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from toolkit.errors import BadInput

DURATION = re.compile(r"^\+(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
TIME_OF_DAY = re.compile(r"^(\d{1,2}):(\d{2})$")


def parse_deadline(text: str, now: datetime | None = None) -> datetime:
    now = now or datetime.now().astimezone()
    duration = DURATION.match(text.strip())
    if duration and any(duration.groups()):
        hours, minutes, seconds = (int(g or 0) for g in duration.groups())
        return now + timedelta(hours=hours, minutes=minutes, seconds=seconds)
    clock = TIME_OF_DAY.match(text.strip())
    if clock:
        hour, minute = int(clock.group(1)), int(clock.group(2))
        if hour > 23 or minute > 59:
            raise BadInput(f"--deadline {text!r}: no such time of day")
        at = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
        return at if at > now else at + timedelta(days=1)
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadInput(f"--deadline {text!r}: give a time (18:00), a date and time (2026-11-23T18:00) "
                       "or a duration from now (+90m, +2h)") from None
    at = at if at.tzinfo else at.astimezone()
    if at <= now:
        raise BadInput(f"--deadline {text!r} is in the past")
    return at
