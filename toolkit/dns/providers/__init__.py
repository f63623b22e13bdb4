"""Providers: one small class per DNS system, each filling ``populate()`` and ``_apply()``."""
