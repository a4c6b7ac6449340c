"""`exgen make` end to end: sheets -> documents -> PDFs -> output folder.

Nothing in the output folder changes until every stage has succeeded: the
documents are rendered and compiled in a private build folder, then moved
into place file by file, atomically. A TeX failure leaves the user's folder
as it was and keeps the failing .tex and its log in `<out>/failed-build/`.

Every folder gets a `manifest.json` (exgen and SymPy versions, the resolved
options, a hash of each problem and each file) from which `exgen verify`
regenerates the folder and reports what changed.
"""

import dataclasses
import hashlib
import json
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import sympy

from . import __version__, check, forms, steps
from .compile import compile_all, find_engine
from .errors import ExgenError, TexFailed, TexMissing
from .output import prepare_folder, write_files
from .render import make_environment, problem_json, render_answer_key, render_documents
from .cores import usable_cores
from .sheet import Section, Sheet, SheetOptions, build_versions, validate

MANIFEST = "manifest.json"
# The names exgen gives its files (a student's id may prefix them); nothing else is ever removed.
OUTPUT_NAME = re.compile(r"^(?:[\w.-]+-)?(?:exercises|guidebook|sheet)(?:-[A-Z])?\.(?:tex|pdf|json)$"
                         r"|^answer-key\.(?:tex|pdf)$|^roster-[\w-]+\.(?:pdf|csv)$")


@dataclass(frozen=True)
class MakeResult:
    sheets: tuple[Sheet, ...]
    written: tuple[Path, ...]
    removed: tuple[Path, ...] = ()  # an earlier run's files this run replaces by nothing

    @property
    def sheet(self) -> Sheet:
        return self.sheets[0]


def render_all(options: SheetOptions, template_dir: Path | None = None,
               jobs: int = 1) -> tuple[tuple[Sheet, ...], dict[str, bytes]]:
    sheets = build_versions(options, jobs)
    env = make_environment(template_dir)
    files: dict[str, bytes] = {}
    for sheet in sheets:
        files.update({name: text.encode("utf-8") for name, text in render_documents(sheet, env).items()})
    if len(sheets) > 1:
        files["answer-key.tex"] = render_answer_key(sheets, env).encode("utf-8")
    return sheets, files


def compile_files(files: dict[str, bytes], folder: Path, jobs: int | None = None) -> dict[str, bytes]:
    """The PDFs of every .tex in `files`, compiled in a private folder."""
    with tempfile.TemporaryDirectory(prefix="exgen-build-") as build:
        build_dir = Path(build)
        sources = []
        for name in sorted(files):
            if name.endswith(".tex"):
                path = build_dir / name
                path.write_bytes(files[name])
                sources.append(path)
        try:
            pdfs = compile_all(sources, jobs=jobs)
        except TexFailed as exc:
            kept = folder / "failed-build"
            shutil.rmtree(kept, ignore_errors=True)
            kept.mkdir()
            for path in sorted(build_dir.iterdir()):
                if path.suffix in (".tex", ".log"):
                    shutil.copy2(path, kept / path.name)
            raise TexFailed(f"LaTeX failed; the .tex and log are kept in {kept}\n  {exc}") from None
        return {path.name: path.read_bytes() for path in pdfs}


def make(options: SheetOptions, out: Path, pdf: bool = True, template_dir: Path | None = None,
         jobs: int | None = None) -> MakeResult:
    validate(options)  # before anything is created on disk
    folder = prepare_folder(out)
    cores = usable_cores()
    sheets, files = render_all(options, template_dir, min(jobs, cores) if jobs else cores)
    if pdf:
        try:
            find_engine()
        except TexMissing as exc:
            files[MANIFEST] = manifest(options, sheets, files, pdf=False)
            written, _ = _write_output(folder, files)
            raise TexMissing(f"{exc}; wrote {len(written)} .tex/.json files to {folder}, "
                             "or pass --no-pdf to skip PDFs") from None
        files.update(compile_files(files, folder, jobs))
        failed = folder / "failed-build"
        if failed.is_dir():
            shutil.rmtree(failed, ignore_errors=True)
    files[MANIFEST] = manifest(options, sheets, files, pdf=pdf)
    return MakeResult(sheets, *_write_output(folder, files))


def _write_output(folder: Path, files: dict[str, bytes]) -> tuple[tuple[Path, ...], tuple[Path, ...]]:
    """Write the files, then remove what the earlier run here wrote and this
    one did not; (written, removed)."""
    stale = _stale_outputs(folder, files)
    written = tuple(write_files(folder, files))
    for path in stale:
        path.unlink(missing_ok=True)
    return written, tuple(stale)


def _stale_outputs(folder: Path, files: dict[str, bytes]) -> list[Path]:
    """Files an earlier run wrote here that this run does not (the PDFs before a
    --no-pdf run, version B after --versions 1): left behind they would pass for
    this sheet's. Only files still exactly as that run's manifest recorded them."""
    try:
        earlier = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        recorded = earlier["files"] if "exgen_version" in earlier else {}
    except (OSError, ValueError, KeyError, TypeError):
        return []
    stale = []
    for name, digest in sorted(recorded.items()) if isinstance(recorded, dict) else ():
        path = folder / name
        if name in files or not OUTPUT_NAME.match(name) or not path.is_file():
            continue
        if _digest(path.read_bytes()) == digest:
            stale.append(path)
    return stale


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def problem_hash(problem, level: str) -> str:
    return _digest(json.dumps(problem_json(problem, level), sort_keys=True).encode())


def manifest(options: SheetOptions, sheets, files: dict[str, bytes], pdf: bool, students=()) -> bytes:
    document = {
        "exgen_version": __version__,
        "sympy_version": sympy.__version__,
        "options": dataclasses.asdict(options),
        "pdf": pdf,
        **({"roster": [{"id": s.id, "name": s.name} for s in students]} if students else {}),
        "problems": [{"version": s.version or "A", "number": p.number, "topic": p.exercise.topic,
                      "hash": problem_hash(p, options.key_level)} for s in sheets for p in s.problems],
        "files": {name: data if isinstance(data, str) else _digest(data)
                  for name, data in sorted(files.items()) if name != MANIFEST},
    }
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def options_from_manifest(data: dict) -> SheetOptions:
    fields = dict(data["options"])
    fields["topics"] = tuple(fields.get("topics", ()))
    fields["sections"] = tuple(Section(s["title"], s["count"], s["difficulty"], tuple(s["topics"]))
                               for s in fields.get("sections", ()))
    known = {f.name for f in dataclasses.fields(SheetOptions)}
    unknown = sorted(set(fields) - known)
    if unknown:
        raise ExgenError(f"the manifest has options this exgen does not know: {', '.join(unknown)}")
    return SheetOptions(**fields)


@dataclass(frozen=True)
class Verification:
    lines: tuple[str, ...]
    changed: int


def verify(folder: Path, template_dir: Path | None = None) -> Verification:
    """Regenerate a folder from its manifest and compare, problem by problem and file by file."""
    path = folder / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ExgenError(f"{path} not found; `exgen verify` needs a folder written by `exgen make`") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ExgenError(f"{path} is not a valid manifest: {exc}") from None
    options = options_from_manifest(data)
    if data.get("roster"):
        from .roster import Student

        students = tuple(Student(s["id"], s["name"]) for s in data["roster"])
        with tempfile.TemporaryDirectory(prefix="exgen-verify-") as scratch:
            make_roster(options, students, Path(scratch), pdf=data.get("pdf", True), template_dir=template_dir)
            files = {p.name: p.read_bytes() for p in Path(scratch).iterdir() if p.is_file()}
        sheets = ()
    else:
        sheets, files = render_all(options, template_dir, usable_cores())
        if data.get("pdf"):
            with tempfile.TemporaryDirectory(prefix="exgen-verify-") as scratch:
                files.update(compile_files(files, Path(scratch)))
    lines, changed = [], 0
    if data.get("exgen_version") != __version__ or data.get("sympy_version") != sympy.__version__:
        lines.append(f"made with exgen {data.get('exgen_version')} and SymPy {data.get('sympy_version')}; "
                     f"this is exgen {__version__} with SymPy {sympy.__version__}")
    now = {(s.version or "A", p.number): problem_hash(p, options.key_level) for s in sheets for p in s.problems}
    for entry in data["problems"]:
        key = (entry["version"], entry["number"])
        same = now.get(key) == entry["hash"]
        changed += not same
        lines.append(f"version {key[0]} problem {key[1]} ({entry['topic']}): {'identical' if same else 'CHANGED'}")
    for name, digest in data["files"].items():
        same = name in files and _digest(files[name]) == digest
        on_disk = folder / name
        edited = not on_disk.is_file() or _digest(on_disk.read_bytes()) != digest
        changed += (not same) + edited
        state = "identical" if same else "CHANGED when regenerated"
        if edited:
            state += "; the file in the folder differs from what exgen wrote (edited or missing)"
        lines.append(f"{name}: {state}")
    return Verification(tuple(lines), changed)


# Students' sheets share many small expressions (x^2, e^x, sigma(z), their
# printings and compiled checks), so a worker keeps what the printers and the
# oracle remember for this many students, then drops it: about 10% faster
# per student than starting afresh each time, with the worker's memory still
# bounded (about 80 MB, against 110 MB after 150 students never dropping it).
STUDENTS_BETWEEN_FORGETTING = 25
_students_made = 0


def _student_files(job) -> dict[str, bytes]:
    """One student's sheet, guidebook and JSON (and PDFs): a worker process's job."""
    global _students_made
    options, template_dir, pdf = job
    sheets, files = render_all(options, template_dir)
    _students_made += 1
    if _students_made % STUDENTS_BETWEEN_FORGETTING == 0:
        for module in (forms, check, steps):
            module.forget()
    if pdf:
        with tempfile.TemporaryDirectory(prefix="exgen-student-") as scratch:
            files.update(compile_files(files, Path(scratch), jobs=1))
    return files


def make_roster(options: SheetOptions, students, out: Path, pdf: bool = True, template_dir: Path | None = None,
                jobs: int | None = None, progress=None) -> MakeResult:
    """A sheet and guidebook per student, seeded from (seed, id), plus one merged
    PDF of every student's exercise sheet and roster-key.csv (id -> sheet code)."""
    import csv
    import io
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from .render import escape

    validate(options)
    folder = prepare_folder(out)
    if pdf:
        find_engine()
    for student in students:
        escape(student.name)  # refuse what TeX cannot print before any work starts
    per_student = [dataclasses.replace(options, student=s.id, student_name=s.name, versions=1) for s in students]
    jobs = jobs or usable_cores()
    earlier = _stale_outputs(folder, {})  # read before this run overwrites the manifest
    digests: dict[str, str] = {}
    written: list[Path] = []
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        for done, result in enumerate(pool.map(_student_files, [(o, template_dir, pdf) for o in per_student]), 1):
            # Written as each student arrives, so memory does not grow with the class.
            written += write_files(folder, result)
            digests.update({name: _digest(data) for name, data in result.items()})
            if progress:
                progress(done, len(per_student))
    files: dict[str, bytes] = {}
    key = io.StringIO()
    writer = csv.writer(key, lineterminator="\n")
    writer.writerow(["id", "name", "code"])
    for o in per_student:
        writer.writerow([o.student, o.student_name, o.code])
    files["roster-key.csv"] = key.getvalue().encode("utf-8")
    if pdf:
        files.update(_merged([o.student for o in per_student], folder))
    digests.update({name: _digest(data) for name, data in files.items()})
    files[MANIFEST] = manifest(options, (), digests, pdf=pdf, students=students)
    written += write_files(folder, files)
    removed = tuple(path for path in earlier if path.name not in digests and path.name != MANIFEST)
    for path in removed:
        path.unlink(missing_ok=True)  # a student no longer on the roster, PDFs before --no-pdf
    return MakeResult((), tuple(sorted(written)), removed)


def _merged(ids, folder: Path) -> dict[str, bytes]:
    """all-exercises.pdf: every student's sheet in roster order, for printing."""
    lines = [r"\documentclass{article}", r"\pdftrailerid{}", r"\usepackage{pdfpages}", r"\begin{document}"]
    lines += [r"\includepdf[pages=-]{%s-exercises.pdf}" % i for i in ids]
    lines.append(r"\end{document}")
    with tempfile.TemporaryDirectory(prefix="exgen-merge-") as build:
        build_dir = Path(build)
        for i in ids:
            shutil.copyfile(folder / f"{i}-exercises.pdf", build_dir / f"{i}-exercises.pdf")
        merged = {"all-exercises.tex": "\n".join(lines).encode() + b"\n"}
        for name, data in merged.items():
            (build_dir / name).write_bytes(data)
        pdfs = compile_all([build_dir / "all-exercises.tex"])
        return {"all-exercises.pdf": pdfs[0].read_bytes()}
