"""The migration: steps that move a running service from AWS to bare metal, driven as one run."""
