"""What is in an uploaded file: its encoding, delimiter, header row and first rows.

Everything here reads a bounded sample, never the whole file.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass
from typing import BinaryIO

import charset_normalizer
from django.utils.translation import gettext as _

SAMPLE_BYTES = 1024 * 1024
PREVIEW_ROWS = 5
DELIMITERS = (",", ";", "\t", "|")
# Excel, LibreOffice and most CRMs in French and English locales write Windows-1252 when they
# do not write UTF-8. charset-normalizer cannot tell it apart on a short sample (it reads
# "Ørsted" as cp1250 "Řsted", and a three-line file as Big5), so a sample whose non-ASCII
# characters read as Western European letters in cp1252 is taken as cp1252 first.
PREFERRED_SINGLE_BYTE = "cp1252"
_TIE = 0.02
_WESTERN_SYMBOLS = set("€\u2019\u2018“”\u2013—«»°·…ªº¿¡²³\u00a0")  # quotes, dashes, nbsp
_WESTERN_SHARE = 0.9
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]{3,}")
MAX_COLUMNS = 200


class UnreadableFile(Exception):
    """The file cannot be imported as CSV; the message says what was found and what to do."""


@dataclass(frozen=True)
class FileShape:
    encoding: str
    delimiter: str
    headers: list[str]
    preview_rows: list[list[str]]


def _latin_fallback(error: UnicodeDecodeError) -> tuple[str, int]:
    # The five bytes cp1252 leaves undefined read as Latin-1 instead of failing the import.
    return error.object[error.start : error.end].decode("latin-1"), error.end


def _cp1252_fallback(error: UnicodeDecodeError) -> tuple[str, int]:
    # A file whose first megabyte was plain ASCII was taken for UTF-8; an accented name further
    # down in Windows-1252 is read as such rather than failing the import.
    return error.object[error.start : error.end].decode(PREFERRED_SINGLE_BYTE, "fluenzr_latin1"), (
        error.end
    )


codecs.register_error("fluenzr_latin1", _latin_fallback)
codecs.register_error("fluenzr_cp1252", _cp1252_fallback)
_ERRORS = {PREFERRED_SINGLE_BYTE: "fluenzr_latin1", "utf-8": "fluenzr_cp1252"}


def open_text(raw: BinaryIO, encoding: str) -> io.TextIOWrapper:
    """The file as text, records split by the csv module (which wants newline='')."""
    errors = _ERRORS.get(encoding, "strict")
    return io.TextIOWrapper(raw, encoding=encoding, errors=errors, newline="")


def _refuse_non_csv(sample: bytes) -> None:
    if not sample.strip():
        raise UnreadableFile(_("The file is empty. Export your contacts again and upload it."))
    if sample.startswith(b"PK\x03\x04"):
        raise UnreadableFile(
            _(
                "This is an Excel or OpenDocument workbook (.xlsx, .ods), not a CSV file. "
                "In Excel choose File → Save As → “CSV UTF-8 (comma delimited)”, in Google "
                "Sheets File → Download → CSV, then upload that file."
            )
        )
    if sample.startswith(b"\xd0\xcf\x11\xe0"):
        raise UnreadableFile(
            _(
                "This is an old Excel workbook (.xls), not a CSV file. In Excel choose "
                "File → Save As → “CSV UTF-8 (comma delimited)” and upload that file."
            )
        )
    if sample.startswith(b"%PDF"):
        raise UnreadableFile(_("This is a PDF document, not a CSV file. Upload a CSV export."))


def _reads_as_western_european(sample: bytes) -> bool:
    text = sample.decode(PREFERRED_SINGLE_BYTE, errors="fluenzr_latin1")
    non_ascii = [c for c in text if ord(c) > 127]
    if not non_ascii:
        return False
    # Accents come one at a time in Western names ("Hélène", "Müller"); three non-ASCII
    # letters in a row is Cyrillic or another script read in the wrong code page.
    if _NON_ASCII_RUN.search(text):
        return False
    western = sum(
        1
        for c in non_ascii
        if (c.isalpha() and ord(c) <= 0x17F) or c in _WESTERN_SYMBOLS or c in "ŒœŠšŽžŸƒ"
    )
    return western / len(non_ascii) >= _WESTERN_SHARE


def detect_encoding(sample: bytes) -> str:
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        # Not final: the sample may end inside a multi-byte character.
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError:
        pass
    else:
        if b"\x00" not in sample:
            return "utf-8"
    if b"\x00" not in sample and _reads_as_western_european(sample):
        return PREFERRED_SINGLE_BYTE
    matches = list(charset_normalizer.from_bytes(sample))
    if not matches:
        raise UnreadableFile(
            _(
                "This file is not text (it looks like a binary file), so it cannot be read as "
                "CSV. Export your contacts as “CSV UTF-8” and upload that file."
            )
        )
    best = matches[0]
    for match in matches:
        if (
            match.chaos <= best.chaos + _TIE
            and PREFERRED_SINGLE_BYTE in match.could_be_from_charset
        ):
            return PREFERRED_SINGLE_BYTE
    encoding = codecs.lookup(best.encoding).name
    if "\x00" in str(best):
        raise UnreadableFile(
            _("This file is not text (it contains binary data), so it cannot be read as CSV.")
        )
    return encoding


def _complete_lines(text: str, sample_was_whole_file: bool) -> str:
    if sample_was_whole_file:
        return text
    cut = max(text.rfind("\n"), text.rfind("\r"))
    return text[: cut + 1] if cut > 0 else text


def is_blank(record: list[str]) -> bool:
    return not any(cell.strip() for cell in record)


def trim_trailing_empty(record: list[str]) -> list[str]:
    end = len(record)
    while end and not record[end - 1].strip():
        end -= 1
    return record[:end]


def detect_delimiter(text: str) -> str:
    """The candidate that splits the header into the most columns, consistently across rows."""
    best, best_score = ",", (-1, -1)
    for delimiter in DELIMITERS:
        try:
            reader = csv.reader(io.StringIO(text), delimiter=delimiter)
            records = [r for r in reader if not is_blank(r)]
        except csv.Error:  # this delimiter makes no sense of the quotes: not this one
            continue
        if not records:
            continue
        width = len(trim_trailing_empty(records[0]))
        if width < 2:
            continue
        body = records[1:50]
        consistent = sum(1 for r in body if len(trim_trailing_empty(r)) <= width)
        score = (consistent, width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def sniff(raw: BinaryIO) -> FileShape:
    raw.seek(0)
    sample = raw.read(SAMPLE_BYTES)
    whole = len(sample) < SAMPLE_BYTES
    _refuse_non_csv(sample)
    encoding = detect_encoding(sample)
    decoder = codecs.getincrementaldecoder(encoding)(
        errors="fluenzr_latin1" if encoding == PREFERRED_SINGLE_BYTE else "strict"
    )
    try:
        text = decoder.decode(sample, final=whole)
    except UnicodeDecodeError:
        raise UnreadableFile(
            _("The file's text encoding could not be recognised. Save it as “CSV UTF-8”.")
        ) from None
    text = _complete_lines(text.lstrip("\ufeff"), whole)
    delimiter = detect_delimiter(text)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, strict=True)
    records: list[list[str]] = []
    record_start = 1
    try:
        for record in reader:
            if not is_blank(record):
                records.append(trim_trailing_empty(record))
                if len(records) > PREVIEW_ROWS:
                    break
            record_start = reader.line_num + 1
    except csv.Error:
        raise UnreadableFile(unbalanced_quotes(record_start)) from None
    if not records:
        raise UnreadableFile(_("The file has no header row. Put column names on the first line."))
    headers, preview = records[0], records[1:]
    if len(headers) > MAX_COLUMNS:
        raise UnreadableFile(
            _(
                "The file has %(count)d columns; an import takes at most %(max)d. Keep the "
                "columns you need (email, names, company…) and save it again."
            )
            % {"count": len(headers), "max": MAX_COLUMNS}
        )
    headers = [h.strip() for h in headers]
    return FileShape(encoding, delimiter, headers, preview)


def unbalanced_quotes(line: int) -> str:
    return _(
        'Line %(line)s cannot be read: a quote (") opens a cell that never closes, or '
        "text follows a closing quote. Fix the quotes on that line and upload the file again."
    ) % {"line": line}
