"""Class rosters: a CSV of students, each of whom gets their own sheet.

Class lists are read as the platforms export them:

- the delimiter is detected (csv.Sniffer, then `,` `;` tab `|`: the first
  whose header has an id and a name column), and a byte-order mark (UTF-8 or
  UTF-16) is ignored;
- the id column is the first of ID_HEADERS that has a value for every
  student (Moodle's `ID number` is often left empty, its `Email address` is
  not); the name is NAME_HEADERS, else FIRST_HEADERS + LAST_HEADERS joined
  by a space; headers match case-insensitively, with `_`, `-` and `.` read
  as spaces. `--id-column` and `--name-column` (several columns joined by
  commas) name them where the headers are others. Canvas's "Points
  Possible" row, and rows without an id or a name, are not students.

pdflatex cannot print every character (emoji, non-Latin scripts). Such a
character in a name or id is printed as `?`, with a warning naming the
student; the other students are never held up. The class list's own text
stays in roster-key.csv.

A student's files start with their id when it is file-safe (letters,
digits, `.`, `-` and `_`, at most 60, not starting with `.`). Any other id
is made safe: accents dropped, every other run of unsafe characters
replaced by `_` (`ada@uni.edu` -> `ada_uni.edu`); where that gives two
students the same name, each made-safe one gets `-` and a code of its own id
(`ada_uni.edu-K3QZ`), so a file name never depends on the order of the list.
roster-key.csv maps every id to its file name. Every problem in the file is
reported with the file and line.
"""

import codecs
import csv
import io
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from .errors import ExgenError, read_user_text
from .seeding import short_code

MAX_STUDENTS = 2000
DELIMITERS = (",", ";", "\t", "|")
ID_HEADERS = ("id", "student id", "studentid", "student number", "id number", "idnumber", "sis user id",
              "sis id", "username", "user name", "login id", "sis login id", "email", "email address",
              "e mail", "e mail address")
NAME_HEADERS = ("name", "full name", "fullname", "student name", "student", "display name")
FIRST_HEADERS = ("first name", "firstname", "given name", "given names", "forename", "first")
LAST_HEADERS = ("last name", "lastname", "surname", "family name", "last")
NOT_STUDENTS = ("points possible", "muted")  # Canvas's gradebook rows under the header
SAFE_FILE = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,59}$")
UNPRINTABLE = "?"


@dataclass(frozen=True)
class Student:
    """As the class list has them; `printed_*` and `file_stems` derive the rest."""

    id: str
    name: str

    @property
    def printed_id(self) -> str:
        return printable(self.id)

    @property
    def printed_name(self) -> str:
        return printable(self.name)


@dataclass(frozen=True)
class Roster:
    students: tuple[Student, ...]
    warnings: tuple[str, ...] = ()


def printable(text: str) -> str:
    """`text` with each character pdflatex with T1 fonts cannot print replaced by `?`."""
    from .render import LAST_LATIN, PUNCTUATION

    text = unicodedata.normalize("NFC", text)  # e + a combining accent is the printable é
    return "".join(c if (32 <= ord(c) <= LAST_LATIN and ord(c) != 127) or c in PUNCTUATION else UNPRINTABLE
                   for c in text)


def file_stems(students) -> dict[str, str]:
    """Student id -> the start of their file names (see the module's docstring)."""
    stems = {s.id: s.id if SAFE_FILE.match(s.id) else _made_safe(s.id) for s in students}
    taken: dict[str, int] = {}
    for stem in stems.values():
        taken[stem] = taken.get(stem, 0) + 1
    for student_id, stem in stems.items():
        if stem != student_id and taken[stem] > 1:
            stems[student_id] = f"{stem}-{short_code(student_id, length=4)}"
    final = sorted(stems.values())
    clash = next((a for a, b in zip(final, final[1:]) if a == b), None)
    if clash is not None:  # a suffixed name equal to another student's own id: vanishingly rare
        raise ExgenError(f"two students' files would be named {clash!r}; change one of their ids")
    return stems


def _made_safe(student_id: str) -> str:
    plain = "".join(c for c in unicodedata.normalize("NFKD", student_id) if not unicodedata.combining(c))
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", plain).lstrip(".")[:48]
    return stem or "student"


def _normal(header: str) -> str:
    return " ".join(re.sub(r"[_.\-]+", " ", header.strip().strip('"').lower()).split())


def _text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ExgenError(f"{path}: cannot read the CSV roster: {exc.strerror}") from None
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):  # Excel's "Unicode text"
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            raise ExgenError(f"{path}: not valid UTF-16 text; save the roster as UTF-8 CSV") from None
    return read_user_text(path, "CSV roster", "save the roster as UTF-8 CSV")


@dataclass(frozen=True)
class _Columns:
    ids: tuple[int, ...]      # candidates, in order of preference
    names: tuple[int, ...]    # joined by a space


def _find(header: list[str], wanted: str | None, known: tuple[str, ...]) -> tuple[int, ...]:
    """The columns named by `wanted` (comma-separated; () unless all are there),
    else those of `known` in its order of preference."""
    normal = [_normal(h) for h in header]
    if wanted is not None:
        parts = [_normal(p) for p in wanted.split(",") if p.strip()]
        return tuple(normal.index(p) for p in parts) if parts and all(p in normal for p in parts) else ()
    return tuple(normal.index(h) for h in known if h in normal)


def _columns(header: list[str], id_column, name_column) -> _Columns | None:
    ids = _find(header, id_column, ID_HEADERS)
    names = _find(header, name_column, NAME_HEADERS)
    if name_column is None:
        names = names[:1]
        if not names:
            first, last = _find(header, None, FIRST_HEADERS), _find(header, None, LAST_HEADERS)
            names = (first[0], last[0]) if first and last else ()
    if not ids or not names:
        return None
    return _Columns(ids, names)


def read_roster(path: Path, id_column: str | None = None, name_column: str | None = None) -> Roster:
    where = str(path)
    text = _text(path)
    lines = text.splitlines()
    if not any(line.strip() for line in lines):
        raise ExgenError(f"{where}: the roster is empty; it needs a header line (e.g. `id,name`) and one line "
                         "per student")
    if id_column is not None and "," in id_column:
        raise ExgenError(f"--id-column names one column, got {id_column!r}")
    try:
        sniffed = (csv.Sniffer().sniff("\n".join(lines[:50]), delimiters="".join(DELIMITERS)).delimiter,)
    except csv.Error:
        sniffed = ()
    found = None
    for delimiter in dict.fromkeys(sniffed + DELIMITERS):
        try:
            rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
        except csv.Error as exc:  # a field over the csv module's size limit, among others
            raise ExgenError(f"{where}: not a class list the CSV reader can read ({exc})") from None
        start = next(i for i, row in enumerate(rows) if any(cell.strip() for cell in row))
        columns = _columns(rows[start], id_column, name_column)
        if columns is not None:
            found = (rows, start, columns)
            break
    if found is None:
        header = next(csv.reader([next(line for line in lines if line.strip())],
                                 delimiter=(sniffed or (",",))[0]))
        given = [f"{option} {value!r}" for option, value in (("--id-column", id_column),
                                                              ("--name-column", name_column)) if value]
        if given:
            raise ExgenError(f"{where}: the header ({', '.join(header)}) has no column for "
                             f"{' or '.join(given)}")
        raise ExgenError(f"{where}: no id and name columns in the header ({', '.join(header)}); the usual "
                         "names are id, student id, id number, sis user id, username or email, and name, "
                         "student, full name or first name + last name; or give --id-column and --name-column")
    rows, start, columns = found
    return _students(rows, start, columns, where)


def _students(rows, start: int, columns: _Columns, where: str) -> Roster:
    header = rows[start]

    def cell(row, index):
        return row[index].strip() if index < len(row) else ""

    entries = []  # (line, row) of the students
    for line, row in enumerate(rows[start + 1:], start=start + 2):
        name = " ".join(part for part in (cell(row, i) for i in columns.names) if part)
        if not any(value.strip() for value in row) or name.lower() in NOT_STUDENTS:
            continue
        if not name and not any(cell(row, i) for i in columns.ids):
            continue  # a row of other data: neither an id nor a name
        entries.append((line, row, name))
    if not entries:
        raise ExgenError(f"{where}: the roster has a header but no students")
    if len(entries) > MAX_STUDENTS:
        raise ExgenError(f"{where}: {len(entries)} students; at most {MAX_STUDENTS} per run")
    # The first id column with a value for every student (else the first, which names the empty one).
    id_at = next((i for i in columns.ids if all(cell(row, i) for _, row, _ in entries)), columns.ids[0])
    students, warnings, seen, printed = [], [], {}, {}
    for line, row, name in entries:
        student_id = cell(row, id_at)
        if not student_id:
            raise ExgenError(f"{where}:{line}: the student id ({header[id_at].strip()}) is empty")
        if student_id in seen:
            raise ExgenError(f"{where}:{line}: the id {student_id!r} is also on line {seen[student_id]}")
        if not name:
            raise ExgenError(f"{where}:{line}: the name of {student_id!r} is empty")
        student = Student(student_id, name)
        if student.printed_id in printed:
            raise ExgenError(f"{where}:{line}: the id {student_id!r} prints as {student.printed_id!r}, as the id "
                             f"on line {printed[student.printed_id]} does; pdflatex cannot tell them apart")
        for what, text, shown in (("name", name, student.printed_name), ("id", student_id, student.printed_id)):
            if shown != text:
                bad = sorted({c for c in unicodedata.normalize("NFC", text) if printable(c) != c})
                warnings.append(f"{where}:{line}: the {what} of student {student_id} has "
                                f"{', '.join(f'U+{ord(c):04X}' for c in bad)}, which pdflatex cannot print; "
                                f"printed as {shown!r}")
        seen[student_id] = printed[student.printed_id] = line
        students.append(student)
    file_stems(students)  # refuses the one clash it cannot resolve, before any work starts
    return Roster(tuple(students), tuple(warnings))
