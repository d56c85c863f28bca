"""Rich display of results in notebooks: the Markdown and HTML that ``_repr_markdown_`` and
``_repr_html_`` return (a bold title line and a two-column table of fields)."""
from __future__ import annotations

import html
from typing import Any, Sequence

__all__ = ["markdown_fields", "html_fields", "markdown_table", "html_table"]


def _text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _cell(value: Any) -> str:
    return _text(value).replace("|", "\\|").replace("\n", " ")


def markdown_fields(title: str, fields: Sequence[tuple[str, Any]]) -> str:
    """``**title**`` and a Markdown table of (name, value) rows; rows whose value is None
    or ``""`` are left out."""
    rows = [(k, v) for k, v in fields if v is not None and v != ""]
    return "\n".join([f"**{title}**", "", "| | |", "|---|---|"] + [f"| {k} | {_cell(v)} |" for k, v in rows]) + "\n"


def html_fields(title: str, fields: Sequence[tuple[str, Any]]) -> str:
    """The HTML twin of :func:`markdown_fields` (every value escaped)."""
    rows = "".join(f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(_text(v))}</td></tr>"
                   for k, v in fields if v is not None and v != "")
    return f"<p><b>{html.escape(title)}</b></p><table>{rows}</table>"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table with ``header`` and ``rows`` (floats to 6 significant digits)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def html_table(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """The HTML twin of ``**title**`` and :func:`markdown_table` (every value escaped)."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_text(v))}</td>" for v in row) + "</tr>" for row in rows)
    return f"<p><b>{html.escape(title)}</b></p><table><tr>{head}</tr>{body}</table>"
