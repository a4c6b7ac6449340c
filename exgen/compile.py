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
(tests/test_render_pdf.py). The format is trusted only while it is private
and current (`_usable`), and any trouble with it means compiling the whole
.tex as usual.
"""

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .cores import usable_cores
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
    return compile_all([tex_path], jobs=1, timeout=timeout, preload=preload, engine=engine)[0]


class TexTimedOut(TexFailed):
    pass


def _compile(engine: str, tex_path: Path, timeout: float, split, fmt: Path | None) -> Path:
    """One document within one `timeout`: from the format if there is one,
    else (or if that fails) the whole .tex, whose errors have the right line
    numbers."""
    deadline = time.monotonic() + timeout
    format_failed = False
    if fmt is not None:
        body = tex_path.with_name(tex_path.stem + "-body.tex")
        body.write_text(split.rest, encoding="utf-8")
        try:
            # -jobname keeps the output names of the whole document.
            return _run_engine(engine, tex_path, body.name, timeout, ["-fmt=" + str(fmt)])
        except TexTimedOut:
            raise
        except TexFailed:
            format_failed = True
        finally:
            body.unlink(missing_ok=True)
    pdf = _run_engine(engine, tex_path, tex_path.name, deadline - time.monotonic(), [])
    if format_failed:
        discard_format(fmt)  # the whole document compiles: the format was at fault
    return pdf


def _run_tex(command: list[str], cwd: Path, timeout: float, what: str) -> tuple[int, bytes]:
    """Run TeX with no stdin, in its own process group, killed as a group after `timeout`."""
    if timeout <= 0:
        raise TexTimedOut(f"{what}: TeX did not finish in time and was stopped")
    process = subprocess.Popen(command, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, env=tex_environment(), start_new_session=True)
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise TexTimedOut(f"{what}: TeX did not finish within {timeout:g} s and was stopped") from None
    return process.returncode, output


def _run_engine(engine: str, tex_path: Path, source: str, timeout: float, extra: list[str]) -> Path:
    command = [engine, *extra, "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape",
               "-file-line-error", "-jobname=" + tex_path.stem, source]
    code, output = _run_tex(command, tex_path.parent, timeout, tex_path.name)
    if code != 0:
        log_path = tex_path.with_suffix(".log")
        log_text = log_path.read_text(errors="replace") if log_path.exists() else output.decode(errors="replace")
        raise TexFailed(f"{tex_path.name}: " + "\n  ".join(error_lines(log_text, tex_path.name)))
    return tex_path.with_suffix(".pdf")


def compile_all(tex_paths: list[Path], jobs: int | None = None, timeout: float = TIMEOUT_SECONDS,
                preload: bool = True, engine: str | None = None) -> list[Path]:
    """Compile independent documents in parallel; every failure is reported together."""
    engine = engine or find_engine()
    jobs = jobs or usable_cores()
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
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):  # the XDG rule: a relative path is ignored
        base = str(Path.home() / ".cache")
    return Path(base) / "exgen" / "tex-formats"


FORMATS_KEPT = 8  # the most recently used; one per template preamble and TeX Live in use
# What decides which files TeX finds: part of a format's key.
TEX_SEARCH_VARIABLES = ("TEXMFHOME", "TEXMFLOCAL", "TEXMFVAR", "TEXMFCONFIG", "TEXMFCNF", "TEXINPUTS",
                        "TEXFORMATS", "TFMFONTS")
_CHECKED_THIS_RUN: set[str] = set()


def preloaded_format(engine: str, fixed: str, timeout: float = TIMEOUT_SECONDS) -> Path | None:
    """The format file (without its .fmt suffix, as -fmt wants it) with
    `fixed` loaded, built on first use; None if it cannot be built, kept or
    trusted (then the whole .tex is compiled)."""
    kpsewhich = shutil.which("kpsewhich")
    if kpsewhich is None or not hasattr(os, "getuid"):
        return None
    environment = tex_environment()
    key = hashlib.sha256("\0".join([fixed, os.path.realpath(engine)]
                                    + [environment.get(v, "") for v in TEX_SEARCH_VARIABLES]).encode()).hexdigest()[:24]
    try:
        folder = cache_folder()
    except (RuntimeError, KeyError):  # no home folder to keep a cache in
        return None
    fmt = folder / f"{key}.fmt"
    try:
        if _usable(fmt, key, kpsewhich):
            return fmt.with_suffix("")
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not _private(folder):
            return None
        with open(folder / ".lock", "a") as lock:
            _lock(lock)  # one process builds; the others wait, then use it
            if not _usable(fmt, key, kpsewhich):
                _build(engine, fixed, folder, key, kpsewhich, timeout)
        _prune(folder)
        return fmt.with_suffix("") if _usable(fmt, key, kpsewhich) else None
    except (OSError, ValueError, TypeError, subprocess.SubprocessError, TexFailed):
        return None


def discard_format(fmt: Path) -> None:
    for suffix in (".fmt", ".json"):
        fmt.with_suffix(suffix).unlink(missing_ok=True)


def _lock(handle) -> None:
    try:
        import fcntl
    except ImportError:  # not POSIX: at worst two processes build the same format
        return
    fcntl.flock(handle, fcntl.LOCK_EX)


def _private(path: Path) -> bool:
    """Ours alone: a format decides every page, so none someone else could have written is loaded."""
    info = os.stat(path)
    return info.st_uid == os.getuid() and not info.st_mode & 0o022


def _usable(fmt: Path, key: str, kpsewhich: str) -> bool:
    """The format exists, is private, every file it was built from is unchanged,
    and (once per run) TeX would still find the same files."""
    record_path = fmt.with_suffix(".json")
    if not (fmt.is_file() and record_path.is_file() and _private(fmt) and _private(record_path)):
        return False
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
        if not record["inputs"] or not all(_same_file(*entry) for entry in record["inputs"]):
            return False
    except (ValueError, KeyError, TypeError):
        return False  # a record cut short: built again
    if key not in _CHECKED_THIS_RUN:
        # A newer copy of a package put earlier on TeX's search path (~/texmf)
        # changes no recorded file, only which file TeX finds.
        if _found_by_tex(kpsewhich, sorted(record["found"])) != record["found"]:
            return False
        _CHECKED_THIS_RUN.add(key)
    os.utime(fmt)  # last use, for _prune
    return True


def _same_file(path: str, mtime: int, size: int) -> bool:
    try:
        info = os.stat(path)
    except OSError:
        return False
    return (info.st_mtime_ns, info.st_size) == (mtime, size)


def _found_by_tex(kpsewhich: str, names: list[str]) -> dict[str, str]:
    if not names:
        return {}
    # From an empty folder: TeX looks in the current one first, and exgen's is
    # not where TeX runs.
    with tempfile.TemporaryDirectory(prefix="exgen-kpsewhich-") as empty:
        process = subprocess.run([kpsewhich, "-progname=pdflatex", *names], capture_output=True, text=True,
                                 timeout=30, env=tex_environment(), cwd=empty)
    return {os.path.basename(path): path for path in process.stdout.splitlines() if path}


def _build(engine: str, fixed: str, folder: Path, key: str, kpsewhich: str, timeout: float) -> None:
    with tempfile.TemporaryDirectory(prefix="exgen-format-", dir=folder) as scratch:
        build = Path(scratch)
        (build / "preamble.tex").write_text(fixed + "\\dump\n", encoding="utf-8")
        command = [engine, "-ini", "-recorder", "-interaction=batchmode", "-halt-on-error", "-no-shell-escape",
                   "-jobname=" + key, "&pdflatex", "preamble.tex"]
        code, _ = _run_tex(command, build, timeout, "the preamble format")
        if code != 0 or not (build / f"{key}.fmt").is_file():
            raise TexFailed("the preamble format could not be built")
        read = sorted({line[6:] for line in (build / f"{key}.fls").read_text(errors="replace").splitlines()
                       if line.startswith("INPUT /")})
        inputs = [[path, info.st_mtime_ns, info.st_size] for path, info in ((p, os.stat(p)) for p in read)]
        searched = sorted({os.path.basename(path) for path in read
                           if path.endswith((".cls", ".clo", ".sty", ".cfg", ".def", ".fd", ".ldf"))})
        record = {"inputs": inputs, "found": _found_by_tex(kpsewhich, searched)}
        (build / "record.json").write_text(json.dumps(record), encoding="utf-8")
        for made in (build / f"{key}.fmt", build / "record.json"):
            made.chmod(0o600)  # private whatever the umask (_usable loads nothing else)
        # Atomic, format first: a parallel reader sees whole files, and a
        # format with an older record is only rebuilt once more.
        os.replace(build / f"{key}.fmt", folder / f"{key}.fmt")
        os.replace(build / "record.json", folder / f"{key}.json")


def _prune(folder: Path) -> None:
    formats = sorted(folder.glob("*.fmt"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in formats[FORMATS_KEPT:]:
        discard_format(old)
    for scratch in folder.glob("exgen-format-*"):  # left by a run that was killed while building
        if scratch.is_dir() and time.time() - scratch.stat().st_mtime > 3600:
            shutil.rmtree(scratch, ignore_errors=True)
