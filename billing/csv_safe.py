"""CSV that spreadsheets open as data, never as formulas (OWASP "CSV Injection").

A cell starting with ``= + - @``, a tab or a carriage return is run as a formula
by Excel, LibreOffice and Google Sheets; such a cell gets a leading apostrophe,
which they show as text.
"""

import csv

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value) -> str:
    """Return ``value`` as a CSV cell a spreadsheet will not evaluate."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


class FormulaSafeWriter:
    """``csv.writer`` whose every cell goes through ``csv_cell``."""

    def __init__(self, out, **kwargs):
        self._writer = csv.writer(out, **kwargs)

    def writerow(self, row):
        return self._writer.writerow([csv_cell(value) for value in row])
