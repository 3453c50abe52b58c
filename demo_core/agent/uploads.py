"""Check an uploaded data file before the agent ever sees it.

A file that the model cannot open produces a confusing chain of failing code cells, so
each upload is validated here and a bad one gets one clear sentence instead: wrong type,
too big, a corrupt workbook, text in an unknown encoding, broken JSON. Text in GB18030
(what Excel on a Chinese Windows writes) is converted to UTF-8, so ``pd.read_csv(path)``
works without an ``encoding=`` argument the model would have to guess.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

MiB = 1024**2
MAX_UPLOAD_BYTES = 50 * MiB
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
    ext = re.sub(r"[^A-Za-z0-9]", "", ext).lower()
    return f"{stem[:80]}.{ext}" if ext else stem[:80]


def _decode(data: bytes, name: str) -> tuple[str, str]:
    if b"\x00" in data[:8192]:
        raise UploadError(f"{name} looks like a binary file, not text.")
    for enc, note in (("utf-8-sig", ""), ("gb18030", "converted from GB18030 to UTF-8")):
        try:
            return data.decode(enc), note
        except UnicodeDecodeError:
            continue
    raise UploadError(
        f"{name} is not readable text: it is neither UTF-8 nor GB18030. Save it as "
        "UTF-8 (CSV UTF-8 in Excel) and upload it again."
    )


def check_upload(name: str, data: bytes, max_bytes: int = MAX_UPLOAD_BYTES) -> CheckedFile:
    clean = safe_name(name)
    ext = Path(clean).suffix.lower()
    if ext == ".xls":
        raise UploadError(
            f"{name} is an old-style .xls workbook. Open it in Excel and save it as .xlsx."
        )
    if ext not in ALLOWED:
        raise UploadError(
            f"{name}: unsupported file type. Upload one of: {', '.join(sorted(ALLOWED))}."
        )
    if len(data) > max_bytes:
        raise UploadError(
            f"{name} is {len(data) / MiB:.1f} MiB; the limit is {max_bytes / MiB:.0f} MiB."
        )
    if not data:
        raise UploadError(f"{name} is empty.")
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
                f"{name} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
            ) from None
        summary = f"list of {len(obj)} items" if isinstance(obj, list) else f"{type(obj).__name__}"
    elif ext == ".jsonl":
        lines = [ln for ln in text.splitlines() if ln.strip()]
        for i, ln in enumerate(lines, 1):
            try:
                json.loads(ln)
            except json.JSONDecodeError as exc:
                raise UploadError(f"{name}: line {i} is not valid JSON ({exc.msg}).") from None
        summary = f"{len(lines)} records"
    else:
        summary = f"{len(text.splitlines())} lines"
    return CheckedFile(clean, out, kind, summary, note)


def _check_table(name: str, text: str, sep: str) -> str:
    import pandas as pd

    try:
        head = pd.read_csv(io.StringIO(text), sep=sep, nrows=2000)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise UploadError(f"{name} could not be read as a table: {str(exc).strip()}") from None
    if head.shape[1] == 0:
        raise UploadError(f"{name} has no columns.")
    rows = max(0, text.count("\n") - 1 + (0 if text.endswith("\n") else 1))
    return f"about {rows:,} rows x {head.shape[1]} columns"


def _check_xlsx(name: str, data: bytes) -> str:
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise UploadError(
            f"{name} is not a valid Excel workbook (the file is damaged or not .xlsx)."
        )
    try:
        import openpyxl

        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        sheets = [(ws.title, ws.max_row or 0, ws.max_column or 0) for ws in wb.worksheets]
        wb.close()
    except Exception as exc:  # openpyxl raises many types for broken files
        raise UploadError(
            f"{name} is not a valid Excel workbook ({type(exc).__name__}). Open and re-save it "
            "in Excel, or export the sheet as CSV."
        ) from None
    if not sheets:
        raise UploadError(f"{name} has no worksheets.")
    return "; ".join(f"sheet '{t}': {r} rows x {c} columns" for t, r, c in sheets[:5])


def unique_path(folder: Path, name: str) -> Path:
    """``data.csv``, then ``data_2.csv`` ... never overwrite an earlier upload."""
    path = folder / name
    stem, suffix = path.stem, path.suffix
    n = 2
    while path.exists():
        path = folder / f"{stem}_{n}{suffix}"
        n += 1
    return path
