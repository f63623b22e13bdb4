"""Reports: what a run did, measured, as JSON and as one self-contained HTML page."""

from toolkit.reports.model import RunReport, build_report

__all__ = ["RunReport", "build_report"]
