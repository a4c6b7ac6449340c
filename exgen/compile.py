"""Compiling .tex to PDF: the only module that runs TeX.

TeX runs like untrusted input: an argument list (no shell), one pdflatex pass
(exgen's documents have no cross-references, and one pass gives the same
bytes as two), `-no-shell-escape`, `-halt-on-error`, non-interactive with
stdin closed, paranoid `openin_any`/`openout_any`, and a timeout after which
the whole process group is killed. Independent documents compile in parallel.

Reproducible PDFs: SOURCE_DATE_EPOCH and FORCE_SOURCE_DATE fix the creation
date and `\\pdftrailerid{}` (in the preamble) the trailer id, so the same
.tex gives the same bytes on every run and machine with the same TeX Live.

A preloaded preamble: loading the document class and packages is most of a
short document's TeX time, and every exgen document starts with the same
ones. The first run dumps them into a format file in the user's cache
(`preloaded_format`); later runs start pdflatex from it and feed it the rest
of the document. The PDF is byte for byte the one the whole .tex gives
(tested); the format is rebuilt when any file it read changes (a TeX Live
update), and any trouble with it means compiling the whole .tex as usual.
"""

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .errors import TexFailed, TexMissing

ENGINE = "pdflatex"
DEBIAN_PACKAGES = "texlive-latex-base texlive-latex-recommended lmodern"
TIMEOUT_SECONDS = 60
# 2026-01-01T00:00:00Z: the PDF's date is part of its bytes, so it is fixed.
SOURCE_DATE_EPOCH = "1767225600"

# LaTeX packages a custom template may ask for, and the Debian package with them.
PACKAGE_HINTS = {
    "enumitem": "texlive-latex-extra",
    "exam": "texlive-latex-extra",
    "lmodern": "lmodern",
    "tikz": "texlive-pictures",
    "pgf": "texlive-pictures",
    "siunitx": "texlive-science",
}


def find_engine() -> str:
    path = shutil.which(ENGINE)
    if path is None:
        raise TexMissing(f"no TeX engine found ({ENGINE}); install it with: apt-get install {DEBIAN_PACKAGES}")
    return path


def tex_environment() -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH,
        "FORCE_SOURCE_DATE": "1",
        "openin_any": "p",
        "openout_any": "p",
        "shell_escape": "f",
    })
    return env


def error_lines(log_text: str, tex_name: str) -> list[str]:
    """The lines of a TeX log a person needs: each error and where it happened."""
    lines = log_text.splitlines()
    out = []
    for i, line in enumerate(lines):
        if re.match(r"^(\./)?[^:\s]+\.tex:\d+: ", line) or line.startswith("! "):
            out.append(line.strip())
            for follow in lines[i + 1:i + 8]:
                if re.match(r"^l\.\d+ ", follow):
                    out.append(f"{tex_name} {follow.strip()}")
                    break
        if "not found" in line and ".sty" in line:
            missing = re.search(r"`([^']+)\.sty'", line)
            if missing:
                package = PACKAGE_HINTS.get(missing.group(1), "texlive-latex-extra")
                out.append(f"the LaTeX package {missing.group(1)}.sty is missing; "
                           f"Debian's {package} provides it (apt-get install {package})")
    return out[:12] or ["TeX stopped without an error message; see the log"]


def compile_one(engine: str, tex_path: Path, timeout: float = TIMEOUT_SECONDS, preload: bool = True) -> Path:
    """pdflatex once on `tex_path` (in its own folder); the PDF path, or TexFailed."""
    split = split_preamble(tex_path.read_text(encoding="utf-8", errors="replace")) if preload else None
    fmt = preloaded_format(engine, split.fixed, timeout) if split else None
    return _compile(engine, tex_path, timeout, split, fmt)


def _compile(engine: str, tex_path: Path, timeout: float, split, fmt: Path | None) -> Path:
    if fmt is not None:
        body = tex_path.with_name(tex_path.stem + "-body.tex")
        body.write_text(split.rest, encoding="utf-8")
        try:
            # -jobname keeps the output names of the whole document.
            return _run_engine(engine, tex_path, body.name, timeout, ["-fmt=" + str(fmt)])
        except TexFailed:
            pass  # the whole document decides, and its errors have the right line numbers
        finally:
            body.unlink(missing_ok=True)
    return _run_engine(engine, tex_path, tex_path.name, timeout, [])


def _run_engine(engine: str, tex_path: Path, source: str, timeout: float, extra: list[str]) -> Path:
    command = [engine, *extra, "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape",
               "-file-line-error", "-jobname=" + tex_path.stem, source]
    process = subprocess.Popen(command, cwd=tex_path.parent, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               env=tex_environment(), start_new_session=True)
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise TexFailed(f"{tex_path.name}: TeX did not finish within {timeout:g} s and was stopped")
    if process.returncode != 0:
        log_path = tex_path.with_suffix(".log")
        log_text = log_path.read_text(errors="replace") if log_path.exists() else output.decode(errors="replace")
        raise TexFailed(f"{tex_path.name}: " + "\n  ".join(error_lines(log_text, tex_path.name)))
    return tex_path.with_suffix(".pdf")


def compile_all(tex_paths: list[Path], jobs: int | None = None, timeout: float = TIMEOUT_SECONDS,
                preload: bool = True) -> list[Path]:
    """Compile independent documents in parallel; every failure is reported together."""
    engine = find_engine()
    jobs = jobs or os.cpu_count() or 1
    splits = [split_preamble(path.read_text(encoding="utf-8", errors="replace")) if preload else None
              for path in tex_paths]
    # One format per distinct preamble, built before the documents that share it.
    formats = {split.fixed: preloaded_format(engine, split.fixed, timeout) for split in splits if split}
    with ThreadPoolExecutor(max_workers=min(jobs, len(tex_paths))) as pool:
        futures = [pool.submit(_compile, engine, path, timeout, split, formats[split.fixed] if split else None)
                   for path, split in zip(tex_paths, splits)]
    failures, pdfs = [], []
    for future in futures:
        try:
            pdfs.append(future.result())
        except TexFailed as exc:
            failures.append(str(exc))
    if failures:
        raise TexFailed("\n".join(failures))
    return pdfs


# Packages known to load the same from a format as from the document: they
# neither read files named after the job nor typeset anything while loading.
PRELOADABLE = frozenset({
    "lmodern", "fontenc", "inputenc", "geometry", "amsmath", "amssymb", "amsthm", "mathtools", "array",
    "booktabs", "graphicx", "fancyhdr", "longtable", "enumitem", "xcolor", "multicol",
})
_CLASS_LINE = re.compile(r"\\documentclass(?:\[[\w,=. -]*\])?\{article\}[ \t]*\n")
_PACKAGE_LINE = re.compile(r"\\usepackage(?:\[[\w,=. -]*\])?\{([\w,-]+)\}[ \t]*\n")
_TRAILER_LINE = re.compile(r"\\pdftrailerid\{\}[ \t]*\n")


@dataclass(frozen=True)
class Preamble:
    fixed: str  # the class and package lines the format preloads
    rest: str  # what pdflatex reads after loading the format


def split_preamble(text: str) -> Preamble | None:
    """The document's opening `\\documentclass{article}` and `\\usepackage`
    lines of PRELOADABLE packages, and the rest (a `\\pdftrailerid{}` among
    them stays in the rest: it is a setting of the run, not of the format).
    None when the document does not open that way."""
    fixed, kept, position = [], [], 0
    match = _CLASS_LINE.match(text)
    if not match:
        return None
    fixed.append(match.group())
    position = match.end()
    while True:
        if match := _PACKAGE_LINE.match(text, position):
            if not set(match.group(1).split(",")) <= PRELOADABLE:
                break
            fixed.append(match.group())
        elif match := _TRAILER_LINE.match(text, position):
            kept.append(match.group())
        else:
            break
        position = match.end()
    if len(fixed) < 2:
        return None
    return Preamble("".join(fixed), "".join(kept) + text[position:])


def cache_folder() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "exgen" / "tex-formats"


FORMATS_KEPT = 8  # the newest; one per template preamble and TeX Live in use


def preloaded_format(engine: str, fixed: str, timeout: float = TIMEOUT_SECONDS) -> Path | None:
    """The format file (without its .fmt suffix, as -fmt wants it) with
    `fixed` loaded, built on first use; None if it cannot be built or kept."""
    key = hashlib.sha256((fixed + "\0" + os.path.realpath(engine)).encode()).hexdigest()[:24]
    folder = cache_folder()
    fmt, inputs = folder / f"{key}.fmt", folder / f"{key}.json"
    try:
        if fmt.is_file() and _unchanged(json.loads(inputs.read_text(encoding="utf-8"))):
            return fmt.with_suffix("")
    except (OSError, ValueError, TypeError):
        pass
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        with tempfile.TemporaryDirectory(prefix="exgen-format-", dir=folder) as build:
            _dump_format(engine, fixed, Path(build), key, timeout)
            (Path(build) / "inputs.json").write_text(json.dumps(_inputs_of(Path(build) / f"{key}.fls")),
                                                     encoding="utf-8")
            # Atomic, format first: a parallel run sees whole files, and a
            # format with an older record of inputs is only rebuilt once more.
            os.replace(Path(build) / f"{key}.fmt", fmt)
            os.replace(Path(build) / "inputs.json", inputs)
        _prune(folder)
    except (OSError, subprocess.SubprocessError, TexFailed):
        return None
    return fmt.with_suffix("")


def _dump_format(engine: str, fixed: str, build: Path, key: str, timeout: float) -> None:
    (build / "preamble.tex").write_text(fixed + "\\dump\n", encoding="utf-8")
    command = [engine, "-ini", "-recorder", "-interaction=batchmode", "-halt-on-error", "-no-shell-escape",
               "-jobname=" + key, "&pdflatex", "preamble.tex"]
    process = subprocess.run(command, cwd=build, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, env=tex_environment(), timeout=timeout)
    if process.returncode != 0 or not (build / f"{key}.fmt").is_file():
        raise TexFailed("the preamble format could not be built")


def _inputs_of(recorder: Path) -> list:
    """Every installed file the format was built from, with what identifies its version."""
    paths = sorted({line[6:] for line in recorder.read_text(errors="replace").splitlines()
                    if line.startswith("INPUT /")})
    return [[path, os.stat(path).st_mtime_ns, os.stat(path).st_size] for path in paths]


def _unchanged(inputs: list) -> bool:
    for path, mtime, size in inputs:
        try:
            info = os.stat(path)
        except OSError:
            return False
        if (info.st_mtime_ns, info.st_size) != (mtime, size):
            return False
    return bool(inputs)


def _prune(folder: Path) -> None:
    formats = sorted(folder.glob("*.fmt"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in formats[FORMATS_KEPT:]:
        old.unlink(missing_ok=True)
        old.with_suffix(".json").unlink(missing_ok=True)
