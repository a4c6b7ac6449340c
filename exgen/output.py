"""Writing results: atomically, and never over something that is not ours.

Each file is written to a temporary name in its destination folder and
renamed into place, so an interrupted or failed run never leaves a
half-written file where a good one was.
"""

import os
import tempfile
from pathlib import Path

from .errors import ExgenError


def prepare_folder(folder: Path) -> Path:
    if folder.exists() and not folder.is_dir():
        raise ExgenError(f"--out {folder} is a file, not a folder; choose another path")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExgenError(f"cannot create the output folder {folder}: {exc.strerror}") from None
    if not os.access(folder, os.W_OK):
        raise ExgenError(f"the output folder {folder} is not writable; choose another with --out")
    return folder


def write_atomically(path: Path, data: bytes) -> None:
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_files(folder: Path, files: dict[str, bytes]) -> list[Path]:
    written = []
    try:
        for name in sorted(files):
            path = folder / name
            write_atomically(path, files[name])
            written.append(path)
    except OSError as exc:
        raise ExgenError(f"cannot write into {folder}: {exc.strerror}") from None
    return written
