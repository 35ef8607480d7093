"""Credit reports: a snapshot of one subject as of a date, assembled into a versioned JSON
document (docs/report.md) and rendered as JSON, HTML or PDF, in Chinese or English."""

from credo.report.assemble import assemble
from credo.report.render import render, render_html, render_json
from credo.report.schema import SCHEMA_VERSION, Report, json_schema
from credo.report.service import build_report
from credo.report.snapshot import Snapshot, Viewer, load_snapshot

__all__ = [
    "SCHEMA_VERSION",
    "Report",
    "Snapshot",
    "Viewer",
    "assemble",
    "build_report",
    "json_schema",
    "load_snapshot",
    "render",
    "render_html",
    "render_json",
]
