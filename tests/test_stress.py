"""Stress run: many seeds, every topic and difficulty, every answer and every
step checked against sympy.diff (independently of exgen's engine and oracle),
the reference checker run on the JSON, and a sample of the LaTeX compiled.

The figures it prints are the README's reliability section. Set
EXGEN_STRESS_SEEDS to run more (or fewer) seeds.
"""

import os
import random
import subprocess
import sys

import mpmath
import pytest
import sympy as sp

from exgen.registry import to_elementary
from exgen.render import render_documents, sheet_json
from exgen.sheet import SheetOptions, build_sheet
from exgen.topics import TOPICS
from helpers import assert_derivative, concretize

# Thousands of seeds in CI; a shorter run on a developer machine.
SEEDS = int(os.environ.get("EXGEN_STRESS_SEEDS", "1000" if os.environ.get("CI") else "200"))
DIFFICULTIES = ("easy", "medium", "hard", "mixed")


def _points(domain, variables, rng, n=4):
    low, high = domain.sample_interval
    return [{v: mpmath.mpf(round(rng.uniform(low, high), 5)) for v in variables} for _ in range(n)]


def _bound(bindings, points):
    out = []
    for point in points:
        extended = dict(point)
        ok = True
        for symbol, value in bindings:
            v = concretize(to_elementary(value)).subs(extended)
            v = sp.N(v, 30)
            if not v.is_real or not v.is_finite:
                ok = False
                break
            extended[symbol] = mpmath.mpf(str(v))
        if ok:
            out.append(extended)
    return out


def _check_nodes(step, points, context):
    """Every node: its result equals sympy.diff of its expression."""
    assert_derivative(step.expr, step.wrt, step.result, points, min_usable=2, context=f"{context} {step.rule}")
    sub_points = _bound(step.bindings, points) if step.bindings else points
    for sub in step.substeps:
        _check_nodes(sub, sub_points, context)


@pytest.mark.slow
def test_stress_every_answer_and_step(tmp_path):
    names = tuple(TOPICS)
    problems = 0
    rng = random.Random(20261121)
    samples = []
    for seed in range(SEEDS):
        topic = names[seed % len(names)]
        difficulty = DIFFICULTIES[(seed // len(names)) % len(DIFFICULTIES)]
        levels = TOPICS[topic].levels
        if difficulty != "mixed" and difficulty not in levels:
            difficulty = levels[-1]
        options = SheetOptions(count=3, seed=seed, difficulty=difficulty, topics=(topic,),
                               at_point=seed % 7 == 0)
        sheet = build_sheet(options)
        for problem in sheet.problems:
            problems += 1
            ex = problem.exercise
            points = _points(ex.domain, ex.variables, rng)
            context = f"seed {seed} {topic} #{problem.number}"
            for derivation in problem.trees:  # a higher derivative's earlier stages too
                _check_nodes(derivation, points, context)
            for by, answer in zip(ex.orders, problem.answers):
                if len(by) > 1 and not problem.at:  # the last stage differentiates the engine's f': f itself decides
                    assert_derivative(sp.diff(to_elementary(ex.expr), *by[:-1]), by[-1], answer, points,
                                      min_usable=2, context=f"{context} order {len(by)}")
        path = tmp_path / f"sheet-{seed}.json"
        path.write_text(sheet_json(sheet))
        samples.append(path)
        if seed % 25 == 0:
            docs = render_documents(sheet)
            for name, text in docs.items():
                (tmp_path / f"{seed}-{name}").write_text(text)
    # The reference checker, a separate program, on every sheet (in batches).
    for start in range(0, len(samples), 100):
        result = run_verify_sheet_many(samples[start:start + 100])
        assert result.returncode == 0, result.stdout[-2000:]
    compiled = _compile_sample(tmp_path)
    print(f"\nstress: {SEEDS} seeds, {problems} problems, {len(TOPICS)} topics, "
          f"0 failures, {compiled} documents compiled")


def run_verify_sheet_many(paths):
    from helpers import verify_sheet_path

    return subprocess.run([sys.executable, str(verify_sheet_path()), *map(str, paths)],
                          capture_output=True, text=True, timeout=1500)


def _compile_sample(folder):
    from helpers import require_tool, TEX_HINT

    engine = require_tool("pdflatex", TEX_HINT)
    count = 0
    for tex in sorted(folder.glob("*.tex")):
        result = subprocess.run([engine, "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape",
                                 tex.name], cwd=folder, capture_output=True, text=True, timeout=120,
                                stdin=subprocess.DEVNULL)
        assert result.returncode == 0, f"{tex.name} did not compile:\n{result.stdout[-1500:]}"
        count += 1
    return count
