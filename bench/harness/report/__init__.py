"""RESULTS.md: the summary table, one section per step, the method, notes and the data."""

from harness.report.format import SUMMARY_HEADER, text_table
from harness.report.markdown import render_markdown
from harness.report.notes import auto_notes, load_previous
from harness.report.summary import summary_rows

__all__ = [
    "SUMMARY_HEADER",
    "auto_notes",
    "load_previous",
    "render_markdown",
    "summary_rows",
    "text_table",
]
