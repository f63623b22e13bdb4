"""DNS work across providers, in octoDNS's shape: ``providers/`` (a base class with ``populate()``
and ``apply(plan)``), ``plan.py`` (the diff with thresholds and a checksum), ``sync.py`` (zone
copies), ``timeline.py`` (the TTL arithmetic), ``cutover.py`` (the steps of a switch and its
rollback, as a run), ``query.py`` (real DNS queries for verification)."""
