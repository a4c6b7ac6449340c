"""Golden files: the rendered LaTeX of a few keys (worked and full), pinned,
so that a change in SymPy's printing or in exgen's phrasing is noticed and
reviewed.

To accept a deliberate change, regenerate and review the diff:

    EXGEN_UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py
    git diff tests/golden/
"""

import os
from pathlib import Path

import random

import pytest
import sympy as sp

from exgen.check import sample_points
from exgen.compile import compile_one
from exgen.compose import Domain
from exgen.rules.logarithms import log_base
from exgen.narrate import Subject, checked_key
from exgen.steps import solve
from exgen.writers import latex_text

from helpers import X

GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("EXGEN_UPDATE_GOLDEN") == "1"

FUNCTIONS = {
    "product-x2-sin3x": X**2 * sp.sin(3 * X),
    "chain-exp-sin-x2": sp.exp(sp.sin(X**2)),
    "quotient-x-over-x2-plus-1": X / (X**2 + 1),
    "log2-of-x2-plus-1": log_base(X**2 + 1, 2),
}
CASES = {f"{name}-{level}": (expr, level) for name, expr in FUNCTIONS.items() for level in ("worked", "full")}


def rendered(name: str) -> str:
    expr, level = CASES[name]
    points = sample_points(Domain(), (X,), random.Random(0))
    key = checked_key(Subject((solve(expr, X),), (X,)), level, points)
    return latex_text(key, lambda target, at: "f'(x)")


@pytest.mark.parametrize("name", sorted(CASES))
def test_rendered_latex_matches_the_golden_file(name):
    path = GOLDEN / f"{name}.tex"
    text = rendered(name)
    if UPDATE:
        if os.environ.get("CI"):
            pytest.fail("EXGEN_UPDATE_GOLDEN=1 in CI: golden files are updated by hand, never in CI")
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text)
        return
    assert path.is_file(), f"{path} is missing; create it with EXGEN_UPDATE_GOLDEN=1 and review it"
    assert text == path.read_text(), (
        f"the LaTeX of {name} changed; if that is intended, rerun with EXGEN_UPDATE_GOLDEN=1 and review "
        f"`git diff tests/golden/`")


def test_every_golden_file_belongs_to_a_case():
    assert sorted(p.stem for p in GOLDEN.glob("*.tex")) == sorted(CASES)


@pytest.mark.tex
def test_golden_derivations_compile(tmp_path, tex):
    body = "".join(f"\\section*{{{name}}}\n" + (GOLDEN / f"{name}.tex").read_text() for name in sorted(CASES))
    document = tmp_path / "golden.tex"
    document.write_text("\\documentclass{article}\n\\usepackage{amsmath,amssymb}\n\\begin{document}\n"
                        + body + "\\end{document}\n")
    assert compile_one(tex, document).is_file()
