"""CSV downloads (open data): cells safe to open in a spreadsheet, and the response itself."""

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from flask import Response

# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A CSV cell; text that a spreadsheet would run as a formula (=, +, -, @) gets a leading
    apostrophe (CSV injection). A list becomes its items joined by ";". The JSON exports keep
    the exact text."""
    if isinstance(value, list | tuple):
        value = ";".join(str(v) for v in value)
    if isinstance(value, str) and value[:1] in FORMULA_STARTS:
        return "'" + value
    return value


def csv_text(rows: Iterable[Mapping[str, Any] | Sequence[Any]], columns: Sequence[str]) -> str:
    """The CSV text: a header row with `columns`, then one line per row (a mapping by column
    name, or a sequence in column order), every cell made safe with `csv_cell`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for row in rows:
        values = [row.get(c) for c in columns] if isinstance(row, Mapping) else list(row)
        writer.writerow([csv_cell(v) for v in values])
    return buffer.getvalue()


def csv_response(rows: Iterable[Mapping[str, Any] | Sequence[Any]], columns: Sequence[str],
                 filename: str) -> Response:
    """A CSV download with a header row; UTF-8 with a BOM so spreadsheet programs read it."""
    return Response(
        "\ufeff" + csv_text(rows, columns),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
