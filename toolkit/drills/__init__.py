"""Disaster-recovery drills: the exit rehearsed into an environment of its own, from the live
source, measured against the spec's objectives, and always torn down (``toolkit drill``)."""
