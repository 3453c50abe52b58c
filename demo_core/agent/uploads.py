"""Check an uploaded data file before the agent ever sees it.

A file that the model cannot open produces a confusing chain of failing code cells, so
each upload is validated here and a bad one gets one clear sentence instead: wrong type,
too big, a corrupt workbook, text in an unknown encoding, broken JSON. Text in GB18030
(what Excel on a Chinese Windows writes) is converted to UTF-8, so ``pd.read_csv(path)``
works without an ``encoding=`` argument the model would have to guess.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from demo_core.download.progress import fmt_bytes
from demo_core.i18n import _, format_number, ngettext

# The browser's unit: Streamlit's uploader counts max_upload_size in MB of 1000**2 bytes
# (1024**2 on Windows only) and says sizes that way, so the limit is checked and said in
# the same unit here; a MiB limit let the browser refuse a 48 MiB file as "50.3MB" while
# the page said "up to 50 MB".
MB = 1000**2
MAX_UPLOAD_MB = 50
MAX_UPLOAD_BYTES = MAX_UPLOAD_MB * MB
ALLOWED = {
    ".csv": "CSV table",
    ".tsv": "TSV table",
    ".xlsx": "Excel workbook",
    ".json": "JSON",
    ".jsonl": "JSON lines",
    ".txt": "text",
}


class UploadError(ValueError):
    """The message says what is wrong with the file and what to do."""


@dataclass
class CheckedFile:
    name: str  # safe file name used in the work folder
    data: bytes  # what to save (maybe re-encoded)
    kind: str
    summary: str  # e.g. "1,234 rows x 5 columns"
    note: str = ""  # e.g. "converted from GB18030 to UTF-8"


def safe_name(name: str) -> str:
    """Only the base name; characters that are awkward in code replaced; no dot-files."""
    base = Path(name.replace("\\", "/")).name
    stem, dot, ext = base.rpartition(".")
    if not dot:
        stem, ext = base, ""
    stem = re.sub(r"[^\w\-. ]+", "_", stem, flags=re.UNICODE).strip(" ._") or "upload"
    ext = re.sub(r"[^A-Za-z0-9]", "", ext).lower()[:10]
    stem = _cut_utf8(stem[:80], MAX_STEM_BYTES).rstrip(" ._") or "upload"
    return f"{stem}.{ext}" if ext else stem


# File systems allow 255 *bytes* per name; a CJK character takes 3-4 bytes in UTF-8, so a
# name cut by characters alone can still be refused by the OS. Room is left for "_12".
MAX_STEM_BYTES = 200


def _cut_utf8(text: str, max_bytes: int) -> str:
    """The longest prefix of ``text`` whose UTF-8 form fits in ``max_bytes``."""
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    return data[:max_bytes].decode("utf-8", errors="ignore")


def _decode(data: bytes, name: str) -> tuple[str, str]:
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):  # Excel's "Unicode text" export
        try:
            return data.decode("utf-16"), _("converted from UTF-16 to UTF-8")
        except UnicodeDecodeError:
            pass
    if b"\x00" in data[:8192]:
        raise UploadError(_("{name} looks like a binary file, not text.").format(name=name))
    for enc, note in (("utf-8-sig", ""), ("gb18030", _("converted from GB18030 to UTF-8"))):
        try:
            return data.decode(enc), note
        except UnicodeDecodeError:
            continue
    raise UploadError(
        _(
            "{name} is not readable text: it is neither UTF-8 nor GB18030. Save it as "
            "UTF-8 (CSV UTF-8 in Excel) and upload it again."
        ).format(name=name)
    )


def check_upload(name: str, data: bytes, max_bytes: int = MAX_UPLOAD_BYTES) -> CheckedFile:
    clean = safe_name(name)
    ext = Path(clean).suffix.lower()
    if ext == ".xls":
        raise UploadError(
            _("{name} is an old-style .xls workbook. Open it in Excel and save it as .xlsx.").format(
                name=name
            )
        )
    if ext not in ALLOWED:
        raise UploadError(
            _("{name}: unsupported file type. Upload one of: {types}.").format(
                name=name, types=", ".join(sorted(ALLOWED))
            )
        )
    if len(data) > max_bytes:
        raise UploadError(
            _("{name} is {size}; the limit is {limit}.").format(
                name=name, size=fmt_bytes(len(data)), limit=fmt_bytes(max_bytes)
            )
        )
    if not data:
        raise UploadError(_("{name} is empty.").format(name=name))
    kind = ALLOWED[ext]
    if ext == ".xlsx":
        return CheckedFile(clean, data, kind, _check_xlsx(name, data))
    text, note = _decode(data, name)
    out = text.encode("utf-8") if note else data
    if ext in (".csv", ".tsv"):
        summary = _check_table(name, text, "\t" if ext == ".tsv" else ",")
    elif ext == ".json":
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UploadError(
                _("{name} is not valid JSON: {error} at line {line}, column {column}.").format(
                    name=name, error=exc.msg, line=exc.lineno, column=exc.colno
                )
            ) from None
        summary = (
            ngettext("list of {n} item", "list of {n} items", len(obj)).format(n=len(obj))
            if isinstance(obj, list)
            else f"{type(obj).__name__}"
        )
    elif ext == ".jsonl":
        lines = [ln for ln in text.splitlines() if ln.strip()]
        for i, ln in enumerate(lines, 1):
            try:
                json.loads(ln)
            except json.JSONDecodeError as exc:
                raise UploadError(
                    _("{name}: line {line} is not valid JSON ({error}).").format(
                        name=name, line=i, error=exc.msg
                    )
                ) from None
        summary = ngettext("{n} record", "{n} records", len(lines)).format(n=len(lines))
    else:
        n = len(text.splitlines())
        summary = ngettext("{n} line", "{n} lines", n).format(n=n)
    return CheckedFile(clean, out, kind, summary, note)


def _check_table(name: str, text: str, sep: str) -> str:
    import pandas as pd

    try:
        head = pd.read_csv(io.StringIO(text), sep=sep, nrows=2000)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise UploadError(
            _("{name} could not be read as a table: {error}").format(
                name=name, error=str(exc).strip()
            )
        ) from None
    if head.shape[1] == 0:
        raise UploadError(_("{name} has no columns.").format(name=name))
    rows = _count_rows(text, sep)
    cols = head.shape[1]
    return _table_shape(rows, cols)


def _table_shape(rows: int, cols: int) -> str:
    """ "1,234 rows x 5 columns" in the current language."""
    return (
        ngettext("{n} row", "{n} rows", rows).format(n=format_number(rows))
        + " x "
        + ngettext("{n} column", "{n} columns", cols).format(n=cols)
    )


def _count_rows(text: str, sep: str) -> int:
    """Data rows below the header; quoted fields may hold newlines, so those files are
    parsed as CSV rather than counted by lines."""
    if '"' not in text:
        return sum(1 for line in text.splitlines()[1:] if line.strip())
    reader = csv.reader(io.StringIO(text), delimiter=sep)
    return max(0, sum(1 for row in reader if any(cell.strip() for cell in row)) - 1)


def _check_xlsx(name: str, data: bytes) -> str:
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise UploadError(
            _("{name} is not a valid Excel workbook (the file is damaged or not .xlsx).").format(
                name=name
            )
        )
    try:
        import openpyxl

        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        sheets = [(ws.title, ws.max_row or 0, ws.max_column or 0) for ws in wb.worksheets]
        wb.close()
    except Exception as exc:  # openpyxl raises many types for broken files
        raise UploadError(
            _(
                "{name} is not a valid Excel workbook ({error}). Open and re-save it "
                "in Excel, or export the sheet as CSV."
            ).format(name=name, error=type(exc).__name__)
        ) from None
    if not sheets:
        raise UploadError(_("{name} has no worksheets.").format(name=name))
    return "; ".join(
        _("sheet '{name}': {shape}").format(name=t, shape=_table_shape(r, c))
        for t, r, c in sheets[:5]
    )


def unique_name(taken: Callable[[str], bool], name: str) -> str:
    """``data.csv``, then ``data_2.csv`` ... never overwrite an earlier upload. ``taken``
    says whether a name is in use (asked without following links)."""
    stem, suffix = Path(name).stem, Path(name).suffix
    candidate, n = name, 2
    while taken(candidate):
        candidate = f"{stem}_{n}{suffix}"
        n += 1
    return candidate


def unique_path(folder: Path, name: str) -> Path:
    """``folder / unique_name(...)`` for a folder the app alone writes to."""
    return folder / unique_name(lambda n: os.path.lexists(folder / n), name)
