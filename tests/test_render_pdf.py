"""Rendering and real PDFs: what `exgen make` writes, read back with
pdftotext; escaping of user text; the reference checker on sheet.json;
byte-for-byte reproducibility across processes; and TeX's failure modes
(broken source, no TeX at all, a failing run over a good folder).

Compile tests run for real: without pdflatex they fail when CI is set and
skip otherwise (see conftest.py).
"""

import json
import os
import re
import stat
from pathlib import Path

import pytest

from exgen.compile import compile_one
from exgen.errors import TexFailed, TexMissing
from exgen.output import write_atomically
from exgen.pipeline import make
from exgen.rules import RULES
from exgen.sheet import Section, SheetOptions
from exgen.topics import TOPICS

from helpers import TEX_HINT, assert_user_error, pdf_text, require_tool, run_cli, run_exgen, run_main, \
    run_verify_sheet

TITLE = "Week #3 & 50% _final_"
DATE = "2026-11-24 {draft} ~$5 \\input{/etc/passwd}"


def squash(text: str) -> str:
    return " ".join(text.split())


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def answers_of(problem) -> list:
    answer = problem["check"]["answer"]
    return answer if isinstance(answer, list) else [answer]


# ---------------------------------------------------------------------------
# --no-pdf
# ---------------------------------------------------------------------------

def test_no_pdf_writes_tex_and_json_even_without_tex(tmp_path, monkeypatch):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))          # no TeX needed for --no-pdf
    out = tmp_path / "sheet"
    result = run_cli("make", "--count", "5", "--seed", "2", "--no-pdf", "--out", out)
    assert result.exit_code == 0
    names = {p.name for p in out.iterdir()}
    assert {"exercises.tex", "guidebook.tex", "sheet.json"} <= names
    assert not any(n.endswith(".pdf") for n in names)
    doc = json.loads((out / "sheet.json").read_text())
    assert doc["count"] == 5 and len(doc["problems"]) == 5
    exercises = (out / "exercises.tex").read_text()
    assert exercises.count(r"\item") == 5
    assert doc["code"] in exercises and doc["code"] in (out / "guidebook.tex").read_text()


def test_a_rerun_removes_what_it_no_longer_writes_but_keeps_other_files(tmp_path):
    out = tmp_path / "sheet"
    assert run_cli("make", "--count", "3", "--seed", "1", "--versions", "2", "--no-pdf", "--out", out).exit_code == 0
    (out / "notes.txt").write_text("mine")
    (out / "exercises-B.tex").write_text("edited by hand")  # changed since exgen wrote it: kept
    assert run_cli("make", "--count", "3", "--seed", "2", "--no-pdf", "--out", out, "--force").exit_code == 0
    names = {p.name for p in out.iterdir()}
    assert {"exercises.tex", "guidebook.tex", "sheet.json", "manifest.json", "notes.txt", "exercises-B.tex"} == names
    recorded = json.loads((out / "manifest.json").read_text())["files"]
    assert set(recorded) == {"exercises.tex", "guidebook.tex", "sheet.json"}


def test_a_manifest_exgen_did_not_write_never_removes_anything(tmp_path):
    import hashlib

    out = tmp_path / "thesis"
    out.mkdir()
    (out / "thesis.txt").write_text("four years of work")
    (out / "exercises.pdf").write_bytes(b"someone else's")
    digests = {name: hashlib.sha256((out / name).read_bytes()).hexdigest() for name in ("thesis.txt", "exercises.pdf")}
    (out / "manifest.json").write_text(json.dumps({"files": digests}))
    before = snapshot(out)
    assert_user_error(run_main("make", "--count", "2", "--seed", "1", "--no-pdf", "--out", out), "manifest.json")
    assert snapshot(out) == before, "a refused run changes nothing"
    assert run_cli("make", "--count", "2", "--seed", "1", "--no-pdf", "--out", out, "--force").exit_code == 0
    assert (out / "thesis.txt").read_text() == "four years of work"
    assert (out / "exercises.pdf").read_bytes() == b"someone else's"


# ---------------------------------------------------------------------------
# Real PDFs
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def seed7(tmp_path_factory):
    """`exgen make --count 20 --seed 7`, compiled for real (once for this module)."""
    require_tool("pdflatex", TEX_HINT)
    out = tmp_path_factory.mktemp("seed7") / "seed-7"
    result = run_cli("make", "--count", "20", "--seed", "7", "--out", out)
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.tex
def test_make_writes_both_pdfs_and_their_sources(seed7):
    for name in ("exercises.pdf", "guidebook.pdf", "exercises.tex", "guidebook.tex", "sheet.json"):
        assert (seed7 / name).is_file() and (seed7 / name).stat().st_size > 0, name
    for pdf in ("exercises.pdf", "guidebook.pdf"):
        assert (seed7 / pdf).read_bytes().startswith(b"%PDF-")
    assert not (seed7 / "failed-build").exists()
    assert not [p for p in seed7.iterdir() if p.name.startswith(".") or p.suffix in (".log", ".aux", ".tmp")]


@pytest.mark.tex
def test_a_no_pdf_run_over_a_compiled_folder_removes_the_old_pdfs(tmp_path, tex):
    out = tmp_path / "sheet"
    assert run_cli("make", "--count", "2", "--seed", "1", "--out", out).exit_code == 0
    assert (out / "guidebook.pdf").is_file()
    rerun = run_cli("make", "--count", "2", "--seed", "1", "--no-pdf", "--out", out)
    assert rerun.exit_code == 0
    assert not any(p.suffix == ".pdf" for p in out.iterdir())  # left behind, they would pass for current
    assert "removed 2 files" in rerun.output and "guidebook.pdf" in rerun.output


def test_a_run_without_tex_also_removes_the_earlier_pdfs(tmp_path, tex, monkeypatch):
    out = tmp_path / "sheet"
    assert run_cli("make", "--count", "2", "--seed", "1", "--out", out).exit_code == 0
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert_user_error(run_main("make", "--count", "2", "--seed", "1", "--title", "Week 2", "--out", out, "--force"),
                      "pdflatex")
    assert not any(p.suffix == ".pdf" for p in out.iterdir())
    assert json.loads((out / "sheet.json").read_text())["title"] == "Week 2"


def test_exercise_pdf_numbers_the_problems_1_to_20(seed7):
    text = pdf_text(seed7 / "exercises.pdf", layout=True)
    numbers = [int(n) for n in re.findall(r"^\s*(\d+)\.\s", text, flags=re.MULTILINE)]
    assert numbers == list(range(1, 21))
    code = json.loads((seed7 / "sheet.json").read_text())["code"]
    assert "Worked solutions" not in text, "the exercise sheet must not carry the answers"
    pages = [page for page in text.split("\f") if page.strip()]
    assert pages and all(code in page for page in pages), "the sheet code is on every page"


@pytest.mark.tex
def test_guidebook_pdf_has_a_worked_boxed_answer_per_problem(seed7):
    doc = json.loads((seed7 / "sheet.json").read_text())
    text = pdf_text(seed7 / "guidebook.pdf")
    headings = [int(n) for n in re.findall(r"Problem (\d+)\b", text)]
    assert headings == list(range(1, 21))
    pages = [page for page in text.split("\f") if page.strip()]
    assert all(doc["code"] in page for page in pages), "the sheet code is on every page"
    source = (seed7 / "guidebook.tex").read_text()
    blocks = re.split(r"\\problemhead\{", source)[1:]
    assert len(blocks) == 20
    for block, problem in zip(blocks, doc["problems"]):
        # Each answer boxed once: one box for one derivative; several found at
        # sight box each, a gradient or a matrix at a point is one box.
        # (A Hessian's check answer is one matrix: its entries are the derivatives found.)
        boxes, check = block.count(r"\boxed{"), problem["check"]
        found = len(check["wrt"]) ** 2 if check.get("order", 1) > 1 and isinstance(check["wrt"], list) \
            else len(answers_of(problem))
        assert 1 <= boxes <= found, problem["number"]
        if found == 1:
            assert boxes == 1, problem["number"]
    # The opening table lists every rule the sheet uses.
    squashed = squash(text)
    used = {rule for p in doc["problems"] for rule in p["rules"]}
    for rule in sorted(used):
        assert RULES[rule].title in squashed, f"rule {rule!r} missing from the guidebook's rule table"


@pytest.mark.tex
def test_reference_checker_verifies_the_sheet(seed7):
    checked = run_verify_sheet(seed7 / "sheet.json")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "verified 20/20" in checked.stdout


@pytest.mark.tex
def test_user_text_is_printed_literally(tmp_path):
    out = tmp_path / "escaped"
    result = run_cli("make", "--count", "2", "--seed", "1", "--title", TITLE, "--date", DATE, "--out", out)
    assert result.exit_code == 0, result.output
    for name in ("exercises", "guidebook"):
        text = squash(pdf_text(out / f"{name}.pdf"))
        assert TITLE in text, name
        assert DATE in text, name
        assert "root:" not in text, "user text must never be read as TeX"
    assert json.loads((out / "sheet.json").read_text())["title"] == TITLE


@pytest.mark.tex
def test_common_typographic_characters_in_the_title(tmp_path):
    title = "Week 3 \u2013 \u201cchain rule\u201d"
    out = tmp_path / "typo"
    result = run_cli("make", "--count", "1", "--seed", "1", "--title", title, "--out", out)
    assert result.exit_code == 0
    assert title in squash(pdf_text(out / "exercises.pdf"))


# ---------------------------------------------------------------------------
# Reproducibility: separate processes, different hash seeds and folders
# ---------------------------------------------------------------------------

@pytest.mark.tex
@pytest.mark.slow
def test_same_arguments_give_identical_bytes_across_processes(tmp_path):
    runs = []
    for hash_seed, where in (("0", "first"), ("4242", "second/deeper")):
        cwd = tmp_path / where
        cwd.mkdir(parents=True)
        run = run_exgen("make", "--count", "8", "--seed", "7", "--out", "out", cwd=cwd,
                        env={"PYTHONHASHSEED": hash_seed})
        assert run.code == 0, run.stderr
        runs.append(snapshot(cwd / "out"))
    first, second = runs
    assert {"exercises.pdf", "guidebook.pdf", "exercises.tex", "guidebook.tex", "sheet.json"} <= set(first)
    assert sorted(first) == sorted(second)
    for name in first:
        assert first[name] == second[name], f"{name} differs between two runs with the same arguments"


# ---------------------------------------------------------------------------
# TeX failure modes
# ---------------------------------------------------------------------------

@pytest.mark.tex
def test_a_latex_error_names_the_file_and_line(tmp_path, tex):
    source = tmp_path / "broken.tex"
    source.write_text("\\documentclass{article}\n\\begin{document}\nhello\n\\undefinedmacro\n\\end{document}\n")
    with pytest.raises(TexFailed) as info:
        compile_one(tex, source)
    message = str(info.value)
    assert "broken.tex:4" in message
    assert "Undefined control sequence" in message
    assert not (tmp_path / "broken.pdf").exists()


@pytest.mark.tex
def test_tex_runs_without_shell_escape_or_writes_outside(tmp_path, tex):
    work = tmp_path / "work"
    work.mkdir()
    source = work / "sneaky.tex"
    source.write_text("\\documentclass{article}\n\\begin{document}\n"
                      "\\immediate\\write18{touch shell-escaped}\n"
                      "\\newwrite\\out\\immediate\\openout\\out=../escaped.txt\n"
                      "\\immediate\\write\\out{x}\\immediate\\closeout\\out\n"
                      "hello\n\\end{document}\n")
    try:
        compile_one(tex, source)
    except TexFailed:
        pass                      # refusing the write is fine; doing it is not
    assert not (work / "shell-escaped").exists()
    assert not (tmp_path / "escaped.txt").exists()


@pytest.mark.tex
def test_a_good_document_compiles(tmp_path, tex):
    source = tmp_path / "good.tex"
    source.write_text("\\documentclass{article}\n\\begin{document}\nhello\n\\end{document}\n")
    pdf = compile_one(tex, source)
    assert pdf == tmp_path / "good.pdf" and pdf.read_bytes().startswith(b"%PDF-")


# ---------------------------------------------------------------------------
# The preloaded preamble
# ---------------------------------------------------------------------------

@pytest.mark.tex
def test_a_preloaded_preamble_gives_the_pdf_of_the_whole_document(tmp_path, tex, monkeypatch):
    from exgen import compile as tex_compile
    from exgen.pipeline import render_all
    from exgen.sheet import SheetOptions

    _, files = render_all(SheetOptions(count=6, seed=3, versions=2))
    sources = {name: data for name, data in files.items() if name.endswith(".tex")}
    assert {"exercises-A.tex", "guidebook-A.tex", "answer-key.tex"} <= set(sources)
    succeeded = []
    real = tex_compile._run_engine

    def spy(engine, tex_path, source, timeout, extra):
        pdf = real(engine, tex_path, source, timeout, extra)
        succeeded.append((tex_path.parent.name, bool(extra)))
        return pdf

    monkeypatch.setattr(tex_compile, "_run_engine", spy)
    for preload in (True, False):
        folder = tmp_path / str(preload)
        folder.mkdir()
        for name, data in sources.items():
            (folder / name).write_bytes(data)
        tex_compile.compile_all(sorted(folder.glob("*.tex")), preload=preload)
    assert sorted(succeeded) == sorted([("True", True)] * len(sources) + [("False", False)] * len(sources)), \
        "with preloading every document compiled from the format, and only from it"
    for name in sources:
        pdf = name.replace(".tex", ".pdf")
        assert (tmp_path / "True" / pdf).read_bytes() == (tmp_path / "False" / pdf).read_bytes(), pdf


FIXED = "\\documentclass{article}\n\\usepackage{amsmath}\n"


def _identity(fmt):
    return fmt.with_suffix(".fmt").stat().st_ino


@pytest.mark.tex
def test_a_format_is_rebuilt_when_what_it_was_built_from_changes(tmp_path, tex, monkeypatch):
    from exgen import compile as tex_compile

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    first = tex_compile.preloaded_format(tex, FIXED)
    built = _identity(first)
    assert tex_compile.preloaded_format(tex, FIXED) == first and _identity(first) == built, "reused"
    record_path = first.with_suffix(".json")
    record = json.loads(record_path.read_text())
    assert any(path.endswith("amsmath.sty") for path, _, _ in record["inputs"])
    record["inputs"][0][1] += 1  # as if TeX Live had updated that file
    record_path.write_text(json.dumps(record))
    assert tex_compile.preloaded_format(tex, FIXED) == first and _identity(first) != built, "rebuilt"
    # A newer amsmath.sty earlier on TeX's search path: no recorded file changed.
    built = _identity(first)
    record = json.loads(record_path.read_text())
    record["found"]["amsmath.sty"] = "/elsewhere/amsmath.sty"
    record_path.write_text(json.dumps(record))
    monkeypatch.setattr(tex_compile, "_CHECKED_THIS_RUN", set())  # as in a new run
    assert tex_compile.preloaded_format(tex, FIXED) == first and _identity(first) != built, "rebuilt"


@pytest.mark.tex
def test_a_format_others_could_have_written_is_never_loaded(tmp_path, tex, monkeypatch):
    from exgen.compile import cache_folder, preloaded_format

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    fmt = preloaded_format(tex, FIXED)
    built = _identity(fmt)
    fmt.with_suffix(".fmt").chmod(0o666)
    assert preloaded_format(tex, FIXED) == fmt and _identity(fmt) != built, "replaced by one of its own"
    assert not fmt.with_suffix(".fmt").stat().st_mode & 0o022
    cache_folder().chmod(0o777)
    (cache_folder() / (fmt.name + ".fmt")).unlink()
    assert preloaded_format(tex, FIXED) is None, "nothing is built in a folder others can write"
    cache_folder().chmod(0o700)


@pytest.mark.tex
def test_a_format_built_under_a_group_writable_umask_is_used(tmp_path, tex, monkeypatch):
    from exgen.compile import preloaded_format

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    previous = os.umask(0o002)  # user private groups: files are group-writable by default
    try:
        fmt = preloaded_format(tex, FIXED)
        built = _identity(fmt)
        assert preloaded_format(tex, FIXED) == fmt and _identity(fmt) == built, "reused, not rebuilt every run"
    finally:
        os.umask(previous)


def test_a_relative_cache_home_is_ignored(tmp_path, monkeypatch):
    from exgen.compile import cache_folder

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    assert cache_folder() == tmp_path / ".cache" / "exgen" / "tex-formats"


@pytest.mark.tex
def test_a_broken_format_or_cache_still_gives_the_pdf(tmp_path, tex, monkeypatch):
    from exgen.compile import compile_one, preloaded_format

    source = tmp_path / "doc.tex"
    source.write_text("\\documentclass{article}\n\\pdftrailerid{}\n\\usepackage{amsmath}\n\\usepackage{booktabs}\n"
                      "\\begin{document}\n$x^2$\n\\end{document}\n")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    whole = compile_one(tex, source, preload=False).read_bytes()
    fixed = "\\documentclass{article}\n\\usepackage{amsmath}\n\\usepackage{booktabs}\n"
    fmt = preloaded_format(tex, fixed)
    fmt.with_suffix(".fmt").write_bytes(b"not a format")
    assert compile_one(tex, source).read_bytes() == whole
    assert not fmt.with_suffix(".fmt").exists(), "a format that fails where the whole .tex compiles is discarded"
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))  # no cache folder can be made here
    assert compile_one(tex, source).read_bytes() == whole


def test_without_tex_the_sources_are_written_and_the_run_fails(tmp_path, monkeypatch):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    out = tmp_path / "out"
    with pytest.raises(TexMissing):
        run_cli("make", "--count", "3", "--seed", "1", "--out", out)
    names = {p.name for p in out.iterdir()}
    assert {"exercises.tex", "guidebook.tex", "sheet.json"} <= names
    assert not any(n.endswith(".pdf") for n in names)
    # Through main(): one line naming what to install, non-zero exit.
    run = run_main("make", "--count", "3", "--seed", "1", "--out", tmp_path / "again")
    line = assert_user_error(run)
    assert "apt-get install" in line and "texlive" in line
    assert (tmp_path / "again" / "exercises.tex").is_file()


def _failing_pdflatex(bin_dir: Path, real: str) -> None:
    """A pdflatex that breaks the document first: a real TeX error, real log."""
    bin_dir.mkdir()
    script = bin_dir / "pdflatex"
    script.write_text("#!/bin/sh\n"
                      "for last; do :; done\n"
                      "sed -i 's/\\\\end{document}/\\\\undefinedmacro\\n\\\\end{document}/' \"$last\"\n"
                      f"exec '{real}' \"$@\"\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


@pytest.mark.tex
def test_a_failing_tex_run_leaves_the_previous_output_untouched(tmp_path, tex, monkeypatch):
    out = tmp_path / "week3"
    assert run_cli("make", "--count", "4", "--seed", "3", "--out", out).exit_code == 0
    before = snapshot(out)
    assert "exercises.pdf" in before

    _failing_pdflatex(tmp_path / "bin", tex)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    run = run_main("make", "--count", "4", "--seed", "3", "--title", "Changed", "--out", out, "--force")
    assert_user_error(run, "Undefined control sequence", one_line=False)
    assert re.search(r"\w+\.tex:\d+", run.stderr), "the TeX error names the file and line"

    after = snapshot(out)
    kept = {name: data for name, data in after.items() if name.startswith("failed-build/")}
    rest = {name: data for name, data in after.items() if not name.startswith("failed-build/")}
    assert rest == before, "a failed run must not change the previous output"
    kept_tex = [name for name in kept if name.endswith(".tex")]
    assert kept_tex, "the failing .tex is kept in failed-build/"
    assert any(name.endswith(".log") for name in kept)
    assert any(b"Changed" in kept[name] and b"\\undefinedmacro" in kept[name] for name in kept_tex)


def test_an_interrupted_write_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "sheet.json"
    target.write_bytes(b"good old contents")

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError):
        write_atomically(target, b"new half-written contents")
    monkeypatch.undo()
    assert target.read_bytes() == b"good old contents"
    assert [p.name for p in tmp_path.iterdir()] == ["sheet.json"], "no temporary file is left behind"


def test_missing_tex_fails_in_ci_and_skips_elsewhere(tmp_path, monkeypatch):
    """The guard every compile test goes through (conftest's `tex` fixture and marker)."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setenv("CI", "1")
    with pytest.raises(pytest.fail.Exception):
        require_tool("pdflatex", TEX_HINT)
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        require_tool("pdflatex", TEX_HINT)


def test_reference_checker_verifies_a_sheet_with_relu_problems(tmp_path):
    out = tmp_path / "s104"
    assert run_cli("make", "--count", "20", "--seed", "104", "--no-pdf", "--out", out).exit_code == 0
    checked = run_verify_sheet(out / "sheet.json")
    assert checked.returncode == 0, checked.stdout


@pytest.mark.tex
@pytest.mark.parametrize("topic", sorted(TOPICS))
def test_every_topic_at_every_level_compiles_to_pdf(tmp_path, tex, topic):
    sections = tuple(Section(level, 2, level, (topic,)) for level in TOPICS[topic].levels)
    result = make(SheetOptions(count=0, seed=3, sections=sections), tmp_path / topic)
    for name in ("exercises.pdf", "guidebook.pdf"):
        assert (tmp_path / topic / name).read_bytes().startswith(b"%PDF-"), name
    text = pdf_text(tmp_path / topic / "guidebook.pdf")
    assert text.count("Problem ") >= len(result.sheet.problems) == 2 * len(sections)


@pytest.mark.tex
@pytest.mark.parametrize("seed", range(4))
def test_long_derivations_stay_inside_the_page(tmp_path, tex, seed):
    """Long rows are split over several rows or shrunk, never run into the margin."""
    from exgen.render import render_documents
    from exgen.sheet import build_sheet
    from exgen.topics import GROUPS

    sheet = build_sheet(SheetOptions(count=12, seed=seed, difficulty="hard", topics=tuple(GROUPS["ml"])))
    for name, text in render_documents(sheet).items():
        if name.endswith(".tex"):
            (tmp_path / name).write_text(text)
            compile_one(tex, tmp_path / name)
            log = (tmp_path / name).with_suffix(".log").read_text(errors="replace")
            overfull = [float(m) for m in re.findall(r"Overfull \\hbox \(([\d.]+)pt too wide\)", log)]
            assert all(width < 3 for width in overfull), (name, overfull)
