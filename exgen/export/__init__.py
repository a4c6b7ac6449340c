"""Exports to learning platforms (`exgen make --export moodle,canvas`).

One model, many writers: an export prints the `Bank` (every version's
problems, each problem slot with its parallel variants, every problem with
its checked multiple-choice options) and owns its file names. A writer is a
`Writer` registered here by name; `--export` names writers.

To add a format: write a module with a function `(bank) -> {file name: bytes}`
and register it with `register(Writer(name, files, write))` at its end, then
import the module below.

Nothing a writer prints may depend on the clock or the machine: no dates,
zip entries with a fixed date, order and permissions.
"""

from dataclasses import dataclass, replace
from typing import Callable

from ..errors import ExgenError

DEFAULT_CHOICES = 4  # options per problem in an export when --choices is not given
MAX_PARALLEL = 26    # versions x variants: the parallel drawing's letters


@dataclass(frozen=True)
class Writer:
    name: str
    files: tuple[str, ...]  # the file names it writes
    write: Callable          # (bank) -> {file name: bytes}


WRITERS: dict[str, Writer] = {}


def register(writer: Writer) -> Writer:
    if writer.name in WRITERS:
        raise ValueError(f"export {writer.name!r} registered twice")
    WRITERS[writer.name] = writer
    return writer


@dataclass(frozen=True)
class Bank:
    """What the exports print: per version (A, B, ... or one sheet), the
    variants of its sheet, variant 1 first (the printed sheet). Slot k of a
    version is problem k of each of its variants."""

    options: object                     # SheetOptions
    versions: tuple[tuple, ...]         # per version: its variants (Sheets)

    def slots(self, version: int) -> tuple[tuple, ...]:
        variants = self.versions[version]
        return tuple(zip(*(sheet.problems for sheet in variants)))

    @property
    def letters(self) -> tuple[str, ...]:
        return tuple(variants[0].version or "" for variants in self.versions)


def parse_exports(text: str | None) -> tuple[str, ...]:
    """`--export moodle,canvas` as writer names, each known."""
    _load()
    if text is None:
        return ()
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    if not names:
        raise ExgenError(f"--export is empty; give one or more of {', '.join(WRITERS)}")
    for name in names:
        if name not in WRITERS:
            raise ExgenError(f"unknown export {name!r}; exgen exports {', '.join(WRITERS)}")
    return names


def validate(options) -> None:
    from ..choices import validate as validate_choices

    if options.choices:
        validate_choices(options.choices)
    if options.variants < 1:
        raise ExgenError(f"--variants must be at least 1, got {options.variants}")
    if options.variants > 1 and not options.exports:
        raise ExgenError("--variants makes parallel variants for a question bank; give --export too")
    if options.versions * options.variants > MAX_PARALLEL:
        raise ExgenError(f"--versions times --variants must be at most {MAX_PARALLEL}, got "
                         f"{options.versions} x {options.variants}")
    if options.variants > 1 and options.shuffle:
        raise ExgenError("--shuffle with --variants is not supported; leave out --shuffle")


def build(options, jobs: int = 1):
    """(the printed sheets, the bank). Without --variants the bank's
    versions are the printed sheets; with it, every version's variants are
    drawn as further parallel versions (same topic, rules and rule count),
    and the printed version v is variant 1 of version v. Options are added
    to the printed sheets with --choices, to every sheet of the bank when
    exporting."""
    from ..choices import with_choices
    from ..sheet import Sheet, build_versions

    validate(options)
    versions, variants = options.versions, options.variants
    if variants == 1:
        drawn = build_versions(options, jobs)
    else:
        wide = build_versions(replace(options, versions=versions * variants, shuffle=False), jobs)
        drawn = tuple(Sheet(options, wide[v].problems, chr(ord("A") + v) if versions > 1 else "")
                      for v in range(versions))
        extra = {(v, j): wide[j * versions + v] for v in range(versions) for j in range(1, variants)}
    count = options.choices or (DEFAULT_CHOICES if options.exports else 0)
    if count:
        printed = tuple(with_choices(s, count) for s in drawn)
    else:
        printed = drawn
    if not options.exports:
        return printed, None
    columns = []
    for v, sheet in enumerate(printed):
        column = [sheet]
        for j in range(1, variants):
            letter = sheet.version or "A"
            variant = Sheet(options, extra[(v, j)].problems, f"{letter}{j + 1}")
            column.append(with_choices(variant, count))
        columns.append(tuple(column))
    shown = printed if options.choices else drawn
    return shown, Bank(options, tuple(columns))


def export_files(bank: Bank) -> dict[str, bytes]:
    _load()
    files: dict[str, bytes] = {}
    for name in bank.options.exports:
        files.update(WRITERS[name].write(bank))
    return files


def _load() -> None:
    from . import moodle, qti  # noqa: F401  (they register themselves)
