"""Softmax in full: the K x K Jacobian as a Matrix in sheet.json, and the
general derivation d sigma(z_i)/d z_j = sigma(z_i)(delta_ij - sigma(z_j)) for
any K, each checked against sympy.diff of the definition (not exgen's code)."""

import json
import random
import subprocess
import sys

import mpmath
import pytest
import sympy as sp

from exgen.render import render_documents, sheet_json
from exgen.sheet import SheetOptions, build_sheet
from helpers import check_targets, compare, parse_plain, verify_sheet_path

SEEDS = range(12)


def _softmax(i, z):
    return sp.exp(z[i]) / sp.Add(*(sp.exp(zj) for zj in z))


@pytest.mark.parametrize("seed", SEEDS)
def test_hard_softmax_asks_for_the_whole_jacobian_at_given_logits(seed):
    sheet = build_sheet(SheetOptions(count=1, seed=seed, difficulty="hard", topics=("softmax",)))
    doc = json.loads(sheet_json(sheet))
    (p,) = doc["problems"]
    check = p["check"]
    z = [sp.Symbol(n, real=True) for n in check["variables"]]
    assert [s.name for s in z] == ["z1", "z2", "z3", "z4"] and check["wrt"] == check["variables"]
    components = parse_plain(check["expr"], check["variables"])
    jacobian = parse_plain(check["answer"], check["variables"])
    assert isinstance(components, sp.MatrixBase) and components.shape == (4, 1)
    assert isinstance(jacobian, sp.MatrixBase) and jacobian.shape == (4, 4)
    point = {zj: sp.nsimplify(check["at"][zj.name]) for zj in z}
    for i in range(4):
        assert sp.simplify(components[i] - _softmax(i, z)) == 0
        for j in range(4):
            reference = sp.diff(_softmax(i, z), z[j]).subs(point)
            usable, bad = compare(jacobian[i, j], reference, [{}])
            assert usable == 1 and not bad, (seed, i, j, jacobian[i, j], reference)
            # Exact, in terms of e: no decimals in the key.
            assert not jacobian[i, j].atoms(sp.Float)
    # The rows of a Jacobian sum to zero (the softmax components sum to one).
    for i in range(4):
        assert abs(float(sum(jacobian[i, :]))) < 1e-12
    # The key derives a diagonal and an off-diagonal entry in full, then the matrix.
    problem = sheet.problems[0]
    assert len(problem.derivations) == 16
    assert sum(1 for d in problem.derivations if d.substeps) >= 2
    guidebook = render_documents(sheet)["guidebook.tex"]
    # The entries derived in full, the general entry by the softmax rule they
    # establish, then the matrix at the point once, boxed, in S = sum of e^{z_k}.
    assert r"\delta_{i j}" in guidebook and "Softmax rule, for every i and j" in guidebook
    assert guidebook.count(r"\begin{matrix}") == 1 and guidebook.count(r"\boxed") == 1
    assert r"\frac{1}{S^{2}}" in guidebook


def test_the_reference_checker_reads_the_jacobian_matrix(tmp_path):
    paths = []
    for seed in range(4):
        sheet = build_sheet(SheetOptions(count=2, seed=seed, difficulty="hard", topics=("softmax", "cross-entropy")))
        path = tmp_path / f"{seed}.json"
        path.write_text(sheet_json(sheet))
        paths.append(str(path))
    result = subprocess.run([sys.executable, str(verify_sheet_path()), *paths], capture_output=True, text=True,
                            timeout=170)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "verified 8/8" in result.stdout


def _general_problems():
    found = []
    for seed in range(40):
        sheet = build_sheet(SheetOptions(count=3, seed=seed, difficulty="hard", topics=("derivation",)))
        for problem, p in zip(sheet.problems, json.loads(sheet_json(sheet))["problems"]):
            if p["check"]["variables"] == ["R", "z_i", "z_j"]:
                found.append((seed, problem, p))
    return found


def test_general_softmax_derivation_gives_both_cases_of_the_kronecker_delta():
    found = _general_problems()
    assert len(found) >= 5
    zi, zj, rest = (sp.Symbol(n, real=True) for n in ("z_i", "z_j", "R"))
    sigma_i = sp.exp(zi) / (sp.exp(zi) + sp.exp(zj) + rest)
    sigma_j = sp.exp(zj) / (sp.exp(zi) + sp.exp(zj) + rest)
    rng = random.Random(5)
    points = [{zi: mpmath.mpf(rng.uniform(-2, 2)), zj: mpmath.mpf(rng.uniform(-2, 2)),
               rest: mpmath.mpf(rng.uniform(0.1, 5))} for _ in range(6)]
    for seed, problem, p in found:
        (f_i, w_i, d_i), (f_j, w_j, d_j) = check_targets(p["check"])
        assert (w_i, w_j) == ("z_i", "z_j") and f_i == f_j
        assert sp.simplify(f_i - sigma_i) == 0
        # j = i: sigma_i (1 - sigma_i); j != i: -sigma_i sigma_j, and both are what sympy.diff says.
        for claimed, reference, course_form in ((d_i, sp.diff(f_i, zi), sigma_i * (1 - sigma_i)),
                                                (d_j, sp.diff(f_i, zj), -sigma_i * sigma_j)):
            for other in (reference, course_form):
                usable, bad = compare(claimed, other, points)
                assert usable == len(points) and not bad, (seed, claimed, other)
        assert p["domain"] == "R > 0"
        answers = " ".join(p["answer_latex"])
        assert r"\sigma\left(z_{i}\right) \left(1 - \sigma\left(z_{i}\right)\right)" in answers
        assert r"- \sigma\left(z_{i}\right) \sigma\left(z_{j}\right)" in answers
        assert "quotient" in problem.rules_used
