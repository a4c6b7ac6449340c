"""Compiling .tex to PDF: the only module that runs TeX.

TeX runs like untrusted input: an argument list (no shell), one pdflatex pass
(exgen's documents have no cross-references, and one pass gives the same
bytes as two), `-no-shell-escape`, `-halt-on-error`, non-interactive with
stdin closed, paranoid `openin_any`/`openout_any`, and a timeout after which
the whole process group is killed. Independent documents compile in parallel.

Reproducible PDFs: SOURCE_DATE_EPOCH and FORCE_SOURCE_DATE fix the creation
date and `\\pdftrailerid{}` (in the preamble) the trailer id, so the same
.tex gives the same bytes on every run and machine with the same TeX Live.
"""

import os
import re
import shutil
import signal
import subprocess
from concurrent.futures import ThreadPoolExecutor
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


def compile_one(engine: str, tex_path: Path, timeout: float = TIMEOUT_SECONDS) -> Path:
    """pdflatex once on `tex_path` (in its own folder); the PDF path, or TexFailed."""
    command = [engine, "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape",
               "-file-line-error", tex_path.name]
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


def compile_all(tex_paths: list[Path], jobs: int | None = None, timeout: float = TIMEOUT_SECONDS) -> list[Path]:
    """Compile independent documents in parallel; every failure is reported together."""
    engine = find_engine()
    jobs = jobs or os.cpu_count() or 1
    with ThreadPoolExecutor(max_workers=min(jobs, len(tex_paths))) as pool:
        futures = [pool.submit(compile_one, engine, path, timeout) for path in tex_paths]
    failures, pdfs = [], []
    for future in futures:
        try:
            pdfs.append(future.result())
        except TexFailed as exc:
            failures.append(str(exc))
    if failures:
        raise TexFailed("\n".join(failures))
    return pdfs
