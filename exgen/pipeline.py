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
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import sympy

from . import __version__
from .compile import compile_all, find_engine
from .errors import ExgenError, TexFailed, TexMissing
from .output import prepare_folder, write_files
from .render import make_environment, problem_json, render_answer_key, render_documents
from .sheet import Section, Sheet, SheetOptions, build_versions

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class MakeResult:
    sheets: tuple[Sheet, ...]
    written: tuple[Path, ...]

    @property
    def sheet(self) -> Sheet:
        return self.sheets[0]


def render_all(options: SheetOptions, template_dir: Path | None = None) -> tuple[tuple[Sheet, ...], dict[str, bytes]]:
    sheets = build_versions(options)
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
    folder = prepare_folder(out)
    sheets, files = render_all(options, template_dir)
    if pdf:
        try:
            find_engine()
        except TexMissing as exc:
            files[MANIFEST] = manifest(options, sheets, files, pdf=False)
            written = write_files(folder, files)
            raise TexMissing(f"{exc}; wrote {len(written)} .tex/.json files to {folder}, "
                             "or pass --no-pdf to skip PDFs") from None
        files.update(compile_files(files, folder, jobs))
        failed = folder / "failed-build"
        if failed.is_dir():
            shutil.rmtree(failed, ignore_errors=True)
    files[MANIFEST] = manifest(options, sheets, files, pdf=pdf)
    return MakeResult(sheets, tuple(write_files(folder, files)))


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def problem_hash(problem) -> str:
    return _digest(json.dumps(problem_json(problem), sort_keys=True).encode())


def manifest(options: SheetOptions, sheets, files: dict[str, bytes], pdf: bool) -> bytes:
    document = {
        "exgen_version": __version__,
        "sympy_version": sympy.__version__,
        "options": dataclasses.asdict(options),
        "pdf": pdf,
        "problems": [{"version": s.version or "A", "number": p.number, "topic": p.exercise.topic,
                      "hash": problem_hash(p)} for s in sheets for p in s.problems],
        "files": {name: _digest(data) for name, data in sorted(files.items()) if name != MANIFEST},
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
    sheets, files = render_all(options, template_dir)
    if data.get("pdf"):
        with tempfile.TemporaryDirectory(prefix="exgen-verify-") as scratch:
            files.update(compile_files(files, Path(scratch)))
    lines, changed = [], 0
    if data.get("exgen_version") != __version__ or data.get("sympy_version") != sympy.__version__:
        lines.append(f"made with exgen {data.get('exgen_version')} and SymPy {data.get('sympy_version')}; "
                     f"this is exgen {__version__} with SymPy {sympy.__version__}")
    now = {(s.version or "A", p.number): problem_hash(p) for s in sheets for p in s.problems}
    for entry in data["problems"]:
        key = (entry["version"], entry["number"])
        same = now.get(key) == entry["hash"]
        changed += not same
        lines.append(f"version {key[0]} problem {key[1]} ({entry['topic']}): {'identical' if same else 'CHANGED'}")
    for name, digest in data["files"].items():
        same = name in files and _digest(files[name]) == digest
        changed += not same
        lines.append(f"{name}: {'identical' if same else 'CHANGED'}")
    return Verification(tuple(lines), changed)
