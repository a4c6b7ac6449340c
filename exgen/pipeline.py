"""`exgen make` end to end: sheets -> documents -> PDFs -> output folder.

Nothing in the output folder changes until every stage has succeeded: the
documents are rendered and compiled in a private build folder, then moved
into place file by file, atomically. A TeX failure leaves the user's folder
as it was and keeps the failing .tex and its log in `<out>/failed-build/`.

A folder holding another sheet's output (other options, per its
manifest.json), or a file exgen did not write at a name this run writes, is
refused before anything changes unless `force` (`claim_folder`); the same
command run again replaces its own files.

Every folder gets a `manifest.json` (exgen and SymPy versions, the resolved
options, the templates used with their sha256, a hash of each problem and
each file) from which `exgen verify` regenerates the folder and reports
what changed, field by field.
"""

import contextlib
import dataclasses
import hashlib
import json
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import sympy

from . import __version__, check, compose, export, forms, registry, steps
from .compile import compile_all, find_engine
from .errors import ExgenError, TexFailed, TexMissing
from .output import prepare_folder, write_files
from .render import BUILT_IN, file_names, make_environment, problem_json, render_answer_key, render_documents
from .cores import usable_cores
from .roster import file_stems
from .sheet import Section, Sheet, SheetOptions, build_versions, emit_log, keep_log, validate

MANIFEST = "manifest.json"
# The names exgen gives its files (a student's id may prefix them); nothing else is ever removed.
OUTPUT_NAME = re.compile(r"^(?:[\w.-]+-)?(?:exercises|guidebook|sheet)(?:-[A-Z])?\.(?:tex|pdf|json)$"
                         r"|^answer-key\.(?:tex|pdf)$|^roster-[\w-]+\.(?:pdf|csv)$|^moodle\.xml$|^canvas-qti\.zip$")


@dataclass(frozen=True)
class MakeResult:
    sheets: tuple[Sheet, ...]
    written: tuple[Path, ...]
    removed: tuple[Path, ...] = ()  # an earlier run's files this run replaces by nothing

    @property
    def sheet(self) -> Sheet:
        return self.sheets[0]


def render_all(options: SheetOptions, template_dir: Path | None = None, jobs: int = 1,
               env=None) -> tuple[tuple[Sheet, ...], dict[str, bytes]]:
    if options.choices or options.exports or options.variants > 1:
        sheets, bank = export.build(options, jobs)
    else:
        sheets, bank = build_versions(options, jobs), None
    env = env or make_environment(template_dir)
    files: dict[str, bytes] = {}
    for sheet in sheets:
        files.update({name: text.encode("utf-8") for name, text in render_documents(sheet, env).items()})
    if len(sheets) > 1:
        files["answer-key.tex"] = render_answer_key(sheets, env).encode("utf-8")
    if bank is not None:
        files.update(export.export_files(bank))
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
         jobs: int | None = None, force: bool = False) -> MakeResult:
    validate(options)  # before anything is created on disk
    export.validate(options)
    with _output_folder(out) as folder:
        claim_folder(folder, options, planned_names(options, pdf), roster=False, force=force)
        cores = usable_cores()
        env = make_environment(template_dir)
        sheets, files = render_all(options, template_dir, min(jobs, cores) if jobs else cores, env=env)
        templates = template_record(template_dir, env.loader.used)
        if pdf:
            try:
                find_engine()
            except TexMissing as exc:
                files[MANIFEST] = manifest(options, sheets, files, pdf=False, templates=templates)
                written, _ = _write_output(folder, files)
                raise TexMissing(f"{exc}; wrote {len(written)} .tex/.json files to {folder}, "
                                 "or pass --no-pdf to skip PDFs") from None
            files.update(compile_files(files, folder, jobs))
            failed = folder / "failed-build"
            if failed.is_dir():
                shutil.rmtree(failed, ignore_errors=True)
        files[MANIFEST] = manifest(options, sheets, files, pdf=pdf, templates=templates)
        return MakeResult(sheets, *_write_output(folder, files))


@contextlib.contextmanager
def _output_folder(out: Path):
    """The output folder, created if missing; a run that fails before writing
    anything into a folder it created leaves no empty folder behind."""
    existed = out.exists()
    folder = prepare_folder(out)
    try:
        yield folder
    except BaseException:
        if not existed and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
        raise


def planned_names(options: SheetOptions, pdf: bool) -> tuple[str, ...]:
    """The files `make` writes for these options (known before any problem is drawn)."""
    letters = [chr(ord("A") + v) for v in range(options.versions)] if options.versions > 1 else [""]
    names = [name for letter in letters for name in file_names(Sheet(options, (), letter)).values()]
    if options.versions > 1:
        names.append("answer-key.tex")
    names += [name[:-len(".tex")] + ".pdf" for name in names if pdf and name.endswith(".tex")]
    names += [name for writer in options.exports for name in export.WRITERS[writer].files]
    return tuple(names) + (MANIFEST,)


def claim_folder(folder: Path, options: SheetOptions, names, roster: bool, force: bool) -> None:
    """Refuse, in one line and before anything changes, to write into a folder
    that holds another sheet's output (other options, per its manifest.json)
    or, at a name this run writes, a file exgen did not write there or that
    was edited since. `force` replaces them. The same command run again
    replaces its own files."""
    if force:
        return
    fix = "choose another --out, or pass --force to replace"
    path = folder / MANIFEST
    earlier = _manifest_in(folder)
    if path.exists() and earlier is None:
        raise ExgenError(f"{path} was not written by exgen; {fix} it")
    recorded = {}
    if earlier is not None:
        other = _other_sheet(earlier, options, roster)
        if other:
            raise ExgenError(f"{folder} holds another sheet's output ({other}); {fix} that sheet's files")
        recorded = earlier["files"]
    foreign = [name for name in names
               if name != MANIFEST and (folder / name).exists() and not _as_written(folder / name, recorded.get(name))]
    if foreign:
        more = f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
        raise ExgenError(f"{folder} has {', '.join(foreign[:3])}{more}, which exgen did not write there or which "
                         f"were edited since; {fix} them")


def _manifest_in(folder: Path) -> dict | None:
    """The folder's manifest.json if exgen wrote it, else None."""
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or "exgen_version" not in data or not isinstance(data.get("files"), dict):
        return None
    return data


def _as_written(path: Path, digest) -> bool:
    return isinstance(digest, str) and path.is_file() and _digest(path.read_bytes()) == digest


def _other_sheet(earlier: dict, options: SheetOptions, roster: bool) -> str:
    """'' when the manifest records this same sheet, else what the folder holds."""
    try:
        theirs = options_from_manifest(earlier)
    except (ExgenError, KeyError, TypeError, ValueError):
        return f"made by exgen {earlier.get('exgen_version')} with options this exgen cannot read"
    was_roster = bool(earlier.get("roster"))
    if theirs == options and was_roster == roster:
        return ""
    old, new = dataclasses.asdict(theirs), dataclasses.asdict(options)
    changed = [f"{key.replace('_', '-')} {_shown(old[key])} (this run: {_shown(new[key])})"
               for key in old if old[key] != new[key]]
    if was_roster != roster:
        changed.append("a roster's sheets (this run: one sheet)" if was_roster else "one sheet (this run: a roster)")
    return f"sheet {theirs.code}: " + ", ".join(changed[:3]) + (", ..." if len(changed) > 3 else "")


def _shown(value) -> str:
    if isinstance(value, (list, tuple)):
        if value and isinstance(value[0], dict):
            return f"{len(value)} sections"
        return ",".join(map(str, value)) or "all"
    return repr(value) if isinstance(value, str) else str(value)


def template_record(template_dir: Path | None, used: dict) -> dict:
    """For the manifest: the instructor's template folder (or None) and, for
    every template the documents used (`TemplateLoader.used`), where it came
    from and its sha256."""
    return {
        "folder": str(Path(template_dir).resolve()) if template_dir is not None else None,
        "used": {name: {"from": BUILT_IN if origin == BUILT_IN else "folder", "sha256": digest}
                 for name, (origin, digest) in sorted(used.items())},
    }


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
    earlier = _manifest_in(folder)
    if earlier is None:
        return []
    stale = []
    for name, digest in sorted(earlier["files"].items()):
        path = folder / name
        if name in files or not OUTPUT_NAME.match(name):
            continue
        if _as_written(path, digest):
            stale.append(path)
    return stale


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def problem_hash(problem, level: str) -> str:
    return _digest(json.dumps(problem_json(problem, level), sort_keys=True).encode())


def manifest(options: SheetOptions, sheets, files: dict[str, bytes], pdf: bool, students=(),
             templates: dict | None = None) -> bytes:
    document = {
        "exgen_version": __version__,
        "sympy_version": sympy.__version__,
        "options": dataclasses.asdict(options),
        "pdf": pdf,
        **({"templates": templates} if templates is not None else {}),
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
    fields["exports"] = tuple(fields.get("exports", ()))
    fields["sections"] = tuple(Section(s["title"], s["count"], s["difficulty"], tuple(s["topics"]), s.get("points"))
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


# The sheet.json files of a folder: sheet.json, sheet-A.json, ..., ID-sheet.json.
SHEET_JSON = re.compile(r"^(?:(?P<student>.+)-)?sheet(?:-(?P<version>[A-Z]))?\.json$")


def verify(folder: Path, template_dir: Path | None = None) -> Verification:
    """Regenerate a folder from its manifest and compare: each problem of each
    sheet.json field by field (the folder's against the regenerated), each
    file against the manifest's record (regenerated, and as it is in the
    folder), and the templates against those the folder was made with."""
    path = folder / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ExgenError(f"{path} not found; `exgen verify` needs a folder written by `exgen make`") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ExgenError(f"{path} is not a valid manifest: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("files"), dict) or "options" not in data:
        raise ExgenError(f"{path} is not a manifest exgen wrote (no options and files)")
    options = options_from_manifest(data)
    lines: list[str] = []
    template_dir, note = _templates_to_use(data, template_dir, folder)
    if note:
        lines.append(note)
    if data.get("roster"):
        from .roster import Student

        students = tuple(Student(s["id"], s["name"]) for s in data["roster"])
        with tempfile.TemporaryDirectory(prefix="exgen-verify-") as scratch:
            make_roster(options, students, Path(scratch), pdf=data.get("pdf", True), template_dir=template_dir)
            files = {p.name: p.read_bytes() for p in Path(scratch).iterdir() if p.is_file()}
        used = json.loads(files[MANIFEST]).get("templates", {}).get("used", {})
    else:
        env = make_environment(template_dir)
        _, files = render_all(options, template_dir, usable_cores(), env=env)
        if data.get("pdf"):
            with tempfile.TemporaryDirectory(prefix="exgen-verify-") as scratch:
                files.update(compile_files(files, Path(scratch)))
        used = template_record(template_dir, env.loader.used)["used"]
    changed = 0
    if data.get("exgen_version") != __version__ or data.get("sympy_version") != sympy.__version__:
        lines.append(f"made with exgen {data.get('exgen_version')} and SymPy {data.get('sympy_version')}; "
                     f"this is exgen {__version__} with SymPy {sympy.__version__}")
    if "templates" in data:
        template_lines = _template_lines(data["templates"].get("used", {}), used)
        changed += len(template_lines)
        lines += template_lines or [f"templates: identical ({len(used)} files)"]
    for name in sorted(data["files"]):
        if SHEET_JSON.match(name):
            problem_lines, differing = _problem_lines(name, folder / name, files.get(name))
            lines += problem_lines
            changed += differing
    for name, digest in data["files"].items():
        regenerated, on_disk = files.get(name), folder / name
        state = []
        if regenerated is None:
            state.append("not regenerated")
        elif _digest(regenerated) != digest:
            state.append("CHANGED when regenerated")
        if not on_disk.is_file():
            state.append("missing from the folder")
        elif _digest(on_disk.read_bytes()) != digest:
            state.append("edited after exgen wrote it")
        changed += bool(state)
        lines.append(f"{name}: {'; '.join(state) or 'identical'}")
    return Verification(tuple(lines), changed)


def _templates_to_use(data: dict, given: Path | None, folder: Path) -> tuple[Path | None, str]:
    """The template folder to regenerate with, and a note for the report."""
    record = data.get("templates")
    if given is not None and not given.is_dir():
        raise ExgenError(f"--template-dir {given} is not a folder")
    if not isinstance(record, dict):
        used = f"the templates in {given}" if given is not None else "the built-in templates"
        return given, (f"templates: not recorded in the manifest (an older exgen wrote it); regenerated with "
                       f"{used}")
    recorded = record.get("folder")
    if given is not None:
        if recorded is not None and Path(recorded).resolve() == given.resolve():
            return given, ""
        return given, f"templates: {given}, given; the manifest records {recorded or 'the built-in ones'}"
    if recorded is None:
        return None, ""
    if not Path(recorded).is_dir():
        raise ExgenError(f"{folder} was made with the templates in {recorded}, which is not a folder here; "
                         "pass --template-dir with a copy of them")
    return Path(recorded), f"templates: {recorded}, as recorded"


def _template_lines(then: dict, now: dict) -> list[str]:
    lines = []
    for name in sorted(set(then) | set(now)):
        before, after = then.get(name), now.get(name)
        if before is None:
            lines.append(f"template {name}: used now, not when the folder was made")
        elif after is None:
            lines.append(f"template {name}: used when the folder was made, not now")
        elif before.get("sha256") != after.get("sha256"):
            lines.append(f"template {name} ({after.get('from')}): differs from the one the folder was made with")
    return lines


def _problem_lines(name: str, on_disk: Path, regenerated: bytes | None) -> tuple[list[str], int]:
    """One line per problem of a sheet.json: identical, or which fields differ
    between the folder's file and the regenerated one; (lines, how many differ)."""
    match = SHEET_JSON.match(name)
    label = (f"version {match['version']} " if match["version"] else "") + \
            (f"student {match['student']} " if match["student"] else "")
    try:
        mine = json.loads(on_disk.read_text(encoding="utf-8"))
        theirs = json.loads(regenerated) if regenerated is not None else {}
        old, new = list(mine.get("problems", [])), list(theirs.get("problems", []))
    except (OSError, ValueError, AttributeError, TypeError):
        return [f"{label}problems: not compared ({name} is missing or not a sheet.json)"], 0
    lines, differing = [], 0
    header = _differing({k: v for k, v in mine.items() if k != "problems"},
                        {k: v for k, v in theirs.items() if k != "problems"})
    if header:
        lines.append(f"{name}: {', '.join(header)} {'differs' if len(header) == 1 else 'differ'}")
        differing += 1
    for index in range(max(len(old), len(new))):
        before = old[index] if index < len(old) else None
        after = new[index] if index < len(new) else None
        shown = after if isinstance(after, dict) else before if isinstance(before, dict) else {}
        what = f"{label}problem {shown.get('number', index + 1)} ({shown.get('topic', '?')})"
        if before is None or after is None:
            where = "regenerated, not in the folder's file" if before is None else "in the folder's file only"
            lines.append(f"{what}: {where}")
            differing += 1
            continue
        fields = _differing(before, after) if isinstance(before, dict) else ["the whole problem"]
        differing += bool(fields)
        lines.append(f"{what}: " + (f"{', '.join(fields)} {'differs' if len(fields) == 1 else 'differ'}"
                                    if fields else "identical"))
    return lines, differing


def _differing(before: dict, after: dict) -> list[str]:
    """The keys whose values differ (one level into objects: check.answer)."""
    fields = []
    for key in dict.fromkeys(list(after) + list(before)):
        a, b = before.get(key), after.get(key)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            fields += [f"{key}.{sub}" for sub in dict.fromkeys(list(b) + list(a)) if a.get(sub) != b.get(sub)]
        else:
            fields.append(key)
    return fields


# Students' sheets share many small expressions (x^2, e^x, sigma(z), their
# printings and compiled checks), so a worker keeps what the printers and the
# oracle remember for this many students, then drops it: about 10% faster
# per student than starting afresh each time, with the worker's memory still
# bounded (about 80 MB, against 110 MB after 150 students never dropping it).
STUDENTS_BETWEEN_FORGETTING = 25
_students_made = 0


def _student_files(job) -> tuple[dict[str, bytes], dict, tuple]:
    """One student's sheet, guidebook and JSON (and PDFs), named from the
    student's file stem; with the templates used and what was logged (for
    the parent to emit in roster order): a worker process's job."""
    global _students_made
    options, stem, template_dir, pdf = job
    env = make_environment(template_dir)
    records: list = []
    with keep_log(records):
        sheets, rendered = render_all(options, template_dir, env=env)
    prefix = f"{options.student}-"
    assert all(name.startswith(prefix) for name in rendered), sorted(rendered)
    files = {f"{stem}-{name[len(prefix):]}": data for name, data in rendered.items()}
    _students_made += 1
    if _students_made % STUDENTS_BETWEEN_FORGETTING == 0:
        for module in (forms, check, compose, steps, registry):
            module.forget()
    if pdf:
        with tempfile.TemporaryDirectory(prefix="exgen-student-") as scratch:
            files.update(compile_files(files, Path(scratch), jobs=1))
    return files, dict(env.loader.used), tuple(records)


def roster_names(students, pdf: bool) -> tuple[str, ...]:
    """The files `make_roster` writes for these students."""
    stems = file_stems(students)
    kinds = ("exercises.tex", "guidebook.tex", "sheet.json") + (("exercises.pdf", "guidebook.pdf") if pdf else ())
    names = [f"{stems[s.id]}-{kind}" for s in students for kind in kinds]
    return tuple(names) + ("roster-key.csv",) + (("all-exercises.pdf",) if pdf else ()) + (MANIFEST,)


def make_roster(options: SheetOptions, students, out: Path, pdf: bool = True, template_dir: Path | None = None,
                jobs: int | None = None, progress=None, force: bool = False) -> MakeResult:
    """A sheet and guidebook per student, seeded from (seed, id), plus one merged
    PDF of every student's exercise sheet and roster-key.csv (id, name, sheet
    code and the start of the student's file names). A name or id pdflatex
    cannot print is printed with `?` for what it cannot (roster.printable)."""
    import csv
    import io
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    validate(options)
    if pdf:
        find_engine()
    stems = file_stems(students)
    per_student = [dataclasses.replace(options, student=s.printed_id, student_name=s.printed_name, versions=1)
                   for s in students]
    jobs = jobs or usable_cores()
    with _output_folder(out) as folder:
        claim_folder(folder, options, roster_names(students, pdf), roster=True, force=force)
        if progress:
            progress(0, len(per_student))
        earlier = _stale_outputs(folder, {})  # read before this run overwrites the manifest
        digests: dict[str, str] = {}
        written: list[Path] = []
        used: dict = {}
        context = multiprocessing.get_context("fork")
        work = [(o, stems[s.id], template_dir, pdf) for o, s in zip(per_student, students)]
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
            for done, (result, templates, records) in enumerate(pool.map(_student_files, work), 1):
                emit_log(records)
                # Written as each student arrives, so memory does not grow with the class.
                written += write_files(folder, result)
                digests.update({name: _digest(data) for name, data in result.items()})
                used.update(templates)
                if progress:
                    progress(done, len(per_student))
        files: dict[str, bytes] = {}
        key = io.StringIO()
        writer = csv.writer(key, lineterminator="\n")
        writer.writerow(["id", "name", "code", "file"])
        for o, s in zip(per_student, students):
            writer.writerow([s.id, s.name, o.code, stems[s.id]])
        files["roster-key.csv"] = key.getvalue().encode("utf-8")
        if pdf:
            files.update(_merged([stems[s.id] for s in students], folder))
        digests.update({name: _digest(data) for name, data in files.items()})
        files[MANIFEST] = manifest(options, (), digests, pdf=pdf, students=students,
                                   templates=template_record(template_dir, used))
        written += write_files(folder, files)
        removed = tuple(path for path in earlier if path.name not in digests and path.name != MANIFEST)
        for path in removed:
            path.unlink(missing_ok=True)  # a student no longer on the roster, PDFs before --no-pdf
        return MakeResult((), tuple(sorted(written)), removed)


def _merged(stems, folder: Path) -> dict[str, bytes]:
    """all-exercises.pdf: every student's sheet in roster order, for printing.
    The sheets are copied under plain names (s1.pdf, ...): a file name with
    dots or underscores (an id made safe) is not for TeX to parse."""
    lines = [r"\documentclass{article}", r"\pdftrailerid{}", r"\usepackage{pdfpages}", r"\begin{document}"]
    lines += [r"\includepdf[pages=-]{s%d.pdf}" % n for n in range(len(stems))]
    lines.append(r"\end{document}")
    with tempfile.TemporaryDirectory(prefix="exgen-merge-") as build:
        build_dir = Path(build)
        for n, stem in enumerate(stems):
            shutil.copyfile(folder / f"{stem}-exercises.pdf", build_dir / f"s{n}.pdf")
        merged = {"all-exercises.tex": "\n".join(lines).encode() + b"\n"}
        for name, data in merged.items():
            (build_dir / name).write_bytes(data)
        pdfs = compile_all([build_dir / "all-exercises.tex"])
        return {"all-exercises.pdf": pdfs[0].read_bytes()}
