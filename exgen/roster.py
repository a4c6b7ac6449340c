"""Class rosters: a CSV of students, each of whom gets their own sheet.

The file needs the columns `id` and `name` (any others are ignored). Ids name
the student's files, so they must be unique, non-empty and made of letters,
digits, `-` and `_`. Every problem is reported with the file and line.
"""

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import ExgenError, read_user_text
from .render import escape

ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
MAX_STUDENTS = 2000


@dataclass(frozen=True)
class Student:
    id: str
    name: str


def read_roster(path: Path) -> tuple[Student, ...]:
    name = str(path)
    text = read_user_text(path, "CSV roster", "save the roster as UTF-8 CSV")
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise ExgenError(f"{name}: the roster is empty; it needs a header line `id,name` and one line per student")
    header = [cell.strip().lower() for cell in rows[0]]
    if "id" not in header or "name" not in header:
        raise ExgenError(f"{name}:1: the header must have the columns id and name, got {', '.join(rows[0])}")
    id_at, name_at = header.index("id"), header.index("name")
    students, seen = [], {}
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) <= max(id_at, name_at):
            raise ExgenError(f"{name}:{line}: expected at least {max(id_at, name_at) + 1} columns, got {len(row)}")
        student_id, student_name = row[id_at].strip(), row[name_at].strip()
        if not student_id:
            raise ExgenError(f"{name}:{line}: the student id is empty")
        if not ID.match(student_id):
            raise ExgenError(f"{name}:{line}: the id {student_id!r} may only have letters, digits, - and _ "
                             "(at most 40), since it names the student's files")
        if student_id in seen:
            raise ExgenError(f"{name}:{line}: the id {student_id!r} is also on line {seen[student_id]}")
        if not student_name:
            raise ExgenError(f"{name}:{line}: the name of {student_id!r} is empty")
        try:
            escape(student_name)
        except ExgenError as exc:
            raise ExgenError(f"{name}:{line}: {exc}") from None
        seen[student_id] = line
        students.append(Student(student_id, student_name))
    if not students:
        raise ExgenError(f"{name}: the roster has a header but no students")
    if len(students) > MAX_STUDENTS:
        raise ExgenError(f"{name}: {len(students)} students; at most {MAX_STUDENTS} per run")
    return tuple(students)
