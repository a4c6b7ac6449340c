"""`exgen make` end to end: sheet -> documents -> PDFs -> output folder.

Nothing in the output folder changes until every stage has succeeded: the
documents are rendered and compiled in a private build folder, then moved
into place file by file, atomically. A TeX failure leaves the user's folder
as it was and keeps the failing .tex and its log in `<out>/failed-build/`.
"""

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .compile import compile_all, find_engine
from .errors import TexFailed, TexMissing
from .output import prepare_folder, write_files
from .render import render_documents
from .sheet import Sheet, SheetOptions, build_sheet

DOCUMENTS = ("exercises", "guidebook")


@dataclass(frozen=True)
class MakeResult:
    sheet: Sheet
    written: tuple[Path, ...]


def make(options: SheetOptions, out: Path, pdf: bool = True) -> MakeResult:
    folder = prepare_folder(out)
    sheet = build_sheet(options)
    files = {name: text.encode("utf-8") for name, text in render_documents(sheet).items()}
    if not pdf:
        return MakeResult(sheet, tuple(write_files(folder, files)))
    try:
        find_engine()
    except TexMissing as exc:
        written = write_files(folder, files)
        raise TexMissing(f"{exc}; wrote {len(written)} .tex/.json files to {folder}, "
                         "or pass --no-pdf to skip PDFs") from None
    with tempfile.TemporaryDirectory(prefix="exgen-build-") as build:
        build_dir = Path(build)
        sources = []
        for name in DOCUMENTS:
            path = build_dir / f"{name}.tex"
            path.write_bytes(files[f"{name}.tex"])
            sources.append(path)
        try:
            pdfs = compile_all(sources)
        except TexFailed as exc:
            kept = folder / "failed-build"
            shutil.rmtree(kept, ignore_errors=True)
            kept.mkdir()
            for path in sorted(build_dir.iterdir()):
                if path.suffix in (".tex", ".log"):
                    shutil.copy2(path, kept / path.name)
            raise TexFailed(f"LaTeX failed; the .tex and log are kept in {kept}\n  {exc}") from None
        for path in pdfs:
            files[path.name] = path.read_bytes()
    failed = folder / "failed-build"
    if failed.is_dir():
        shutil.rmtree(failed, ignore_errors=True)
    return MakeResult(sheet, tuple(write_files(folder, files)))
