"""Backpropagation through a small network and gradients in vector form (issue 18).

What an instructor relies on: both topics are listed in the ml group at all
three levels; 20-problem sheets of each compile and pass the reference
checker; a medium backprop key fits on one page; the exercise gives every
number a student needs and no value of the key; every forward value, delta
and gradient is right, checked here independently of exgen (a float network
written below, SymPy's own diff); a wrong row is caught; --decimals prints
correctly rounded values and bad values are one-line errors.
"""

import dataclasses
import json
import math
import re

import pytest
import sympy as sp

from exgen.pipeline import make
from exgen.registry import to_elementary
from exgen.render import TEMPLATE_DIR, render_documents, sheet_json
from exgen.sheet import SheetOptions, build_sheet, build_versions
from exgen.topics import GROUPS, TOPICS
from exgen.topics.networks import float_forward
from exgen.worked import check_worked

from helpers import assert_user_error, pdf_text, run_cli, run_main, run_verify_sheet

NEW = ("backprop", "matrix-calculus")
LEVELS = ("easy", "medium", "hard")


def sheet(topic, level, seed, count=6, decimals=0):
    return build_sheet(SheetOptions(count=count, seed=seed, difficulty=level, topics=(topic,), decimals=decimals))


# ---------------------------------------------------------------------------
# Listing, sheets, PDFs, the reference checker
# ---------------------------------------------------------------------------

def test_topics_lists_both_in_the_ml_group_at_every_level():
    result = run_cli("topics")
    assert result.exit_code == 0
    for name in NEW:
        assert TOPICS[name].levels == LEVELS and TOPICS[name].family == "ml"
        assert name in GROUPS["ml"]
        (line,) = [line for line in result.output.splitlines() if line.startswith(name + " ")]
        assert "easy/medium/hard" in line
    (group,) = [line for line in result.output.splitlines() if line.startswith("ml ")]
    assert "backprop" in group and "matrix-calculus" in group


@pytest.mark.tex
@pytest.mark.slow
@pytest.mark.parametrize("topic", NEW)
@pytest.mark.parametrize("level", LEVELS)
def test_a_20_problem_sheet_of_each_level_compiles_and_verifies(tmp_path, topic, level):
    out = tmp_path / "out"
    result = make(SheetOptions(count=20, seed=18, difficulty=level, topics=(topic,), decimals=4), out, pdf=True)
    assert [p.exercise.topic for p in result.sheet.problems] == [topic] * 20
    assert (out / "exercises.pdf").stat().st_size > 0 and (out / "guidebook.pdf").stat().st_size > 0
    checked = run_verify_sheet(out / "sheet.json")
    assert checked.returncode == 0 and "verified 20/20" in checked.stdout, checked.stdout


@pytest.mark.tex
def test_a_short_sheet_of_both_compiles_and_verifies(tmp_path):
    out = tmp_path / "out"
    make(SheetOptions(count=6, seed=3, topics=NEW), out, pdf=True)
    checked = run_verify_sheet(out / "sheet.json")
    assert checked.returncode == 0 and "verified 6/6" in checked.stdout, checked.stdout


def test_both_join_the_default_mix():
    seen = set()
    for seed in range(12):
        seen |= {p.exercise.topic for p in build_sheet(SheetOptions(count=20, seed=seed)).problems}
    assert set(NEW) <= seen


@pytest.mark.tex
@pytest.mark.parametrize("seed", range(4))
def test_a_medium_backprop_key_fits_on_one_page(tmp_path, seed):
    """The key of one problem, started on a page of its own (a copy of the
    guidebook template with a page break before the worked solutions), with
    values to 4 places as well: exactly one page."""
    templates = tmp_path / "templates"
    templates.mkdir()
    source = (TEMPLATE_DIR / "guidebook.tex.j2").read_text()
    include = '((* include "solutions.tex.j2" *))'
    assert include in source
    (templates / "guidebook.tex.j2").write_text(source.replace(include, "\\clearpage\n" + include))
    out = tmp_path / "out"
    options = SheetOptions(count=1, seed=seed, difficulty="medium", topics=("backprop",), decimals=4)
    make(options, out, pdf=True, template_dir=templates)
    pages = [page for page in pdf_text(out / "guidebook.pdf").split("\f") if page.strip()]
    assert len(pages) == 2, f"the key runs over {len(pages) - 1} pages"
    assert "Problem 1" in pages[1] and "Backward pass" in pages[1]


@pytest.mark.parametrize("seed", range(6))
def test_the_exercise_gives_every_number_and_nothing_of_the_key(seed):
    from exgen.forms import tex
    from exgen.worked import approximate, number

    for level in ("medium", "hard"):
        s = sheet("backprop", level, seed, count=2, decimals=4)
        exercises = next(text for name, text in render_documents(s).items() if name.startswith("exercises"))
        for problem in s.problems:
            worked = problem.exercise.worked
            given = dict(worked.point)
            for symbol, value in given.items():  # weights, biases, inputs and targets, as decimals
                assert "%s = %s" % (tex(symbol), tex(number(value))) in exercises, f"{symbol} is not given"
            # Every value of the key (to 4 places) is absent, unless it is one of the given numbers.
            given_decimals = {format(float(v), ".4f") for v in given.values()}
            for row in worked.rows:
                if row.value.free_symbols or row.value.is_Rational:
                    continue
                text = approximate(row.value, 4)
                if text not in given_decimals:
                    assert text not in exercises, f"{text} (a value of the key) is printed on the exercise"
            assert r"\delta" not in exercises and r"\approx" not in exercises


# ---------------------------------------------------------------------------
# Correctness, checked apart from exgen
# ---------------------------------------------------------------------------

def _network_loss(network, pre_override=None):
    """L of a network in floats, optionally with one unit's pre-activation
    replaced: (layer, unit, value). Written apart from exgen's own."""
    feed = [float(x) for x in network.inputs]
    for index, layer in enumerate(network.layers):
        pre = [sum(float(w) * a for w, a in zip(ws, feed)) + float(b) for ws, b in zip(layer.weights, layer.biases)]
        if pre_override and pre_override[0] == index:
            pre[pre_override[1]] = pre_override[2]
        if layer.activation == "softmax":
            exps = [math.exp(z) for z in pre]
            feed = [e / sum(exps) for e in exps]
        else:
            feed = [{"sigmoid": lambda z: 1 / (1 + math.exp(-z)), "tanh": math.tanh,
                     "relu": lambda z: max(0.0, z), "identity": lambda z: z}[layer.activation](z) for z in pre]
    targets = [float(t) for t in network.targets]
    if network.layers[-1].activation == "softmax":
        return -sum(t * math.log(p) for t, p in zip(targets, feed))
    (p,), (t,) = feed, targets
    if network.loss == "cross-entropy":
        return -t * math.log(p) - (1 - t) * math.log(1 - p)
    return 0.5 * (p - t) ** 2


def _close(a, b, tolerance=1e-6):
    return abs(a - b) <= tolerance * max(1.0, abs(a), abs(b))


@pytest.mark.parametrize("level", LEVELS)
def test_every_backprop_gradient_is_the_numeric_derivative_of_the_loss(level):
    """SymPy's own diff of the loss (its elementary form), at the given weights."""
    for seed in range(8):
        for problem in sheet("backprop", level, seed, count=3).problems:
            loss = to_elementary(problem.exercise.expr)
            point = dict(problem.at)
            for w, value in zip(problem.exercise.wrt, problem.values):
                want = sp.diff(loss, w).subs(point).evalf(30)
                got = to_elementary(value).evalf(30)
                assert abs(want - got) <= 1e-20 * max(1, abs(want)), (seed, w, want, got)


@pytest.mark.parametrize("level", LEVELS)
def test_every_forward_value_and_delta_matches_a_float_network(level):
    """Each forward value is the float network's; each delta dL/dz is the
    float network's central difference in that z."""
    for seed in range(8):
        s = sheet("backprop", level, seed, count=3)
        for problem in s.problems:
            network = problem_network(problem)
            pres, posts = float_forward(network)
            worked = problem.exercise.worked
            values = {row.name.name: float(sp.N(row.value, 20)) for row in worked.rows
                      if row.name is not None and not row.value.free_symbols}
            layers = len(network.layers)
            pre_letters = ("z",) if layers == 1 else ("z", "o")
            for index, (pre, post) in enumerate(zip(pres, posts)):
                for unit, (z, a) in enumerate(zip(pre, post)):
                    suffix = "" if len(pre) == 1 else str(unit + 1)
                    name = pre_letters[index] + suffix
                    assert _close(values[name], z, 1e-12), (seed, name)
                    assert abs(z) >= 0.1, "a pre-activation at ReLU's kink"
                    delta = values.get("delta_" + name)
                    if delta is not None:
                        h = 1e-6
                        up = _network_loss(network, (index, unit, z + h))
                        down = _network_loss(network, (index, unit, z - h))
                        assert _close(delta, (up - down) / (2 * h), 1e-5), (seed, name, delta)
            assert _close(values["L"], _network_loss(network), 1e-12)


def problem_network(problem):
    """The network of a backprop problem, rebuilt from its given numbers and prompt data."""
    from exgen.topics.networks import Layer, Network, names_of

    worked = problem.exercise.worked
    given = {s.name: v for s, v in worked.point}
    inputs = tuple(v for k, v in sorted(given.items()) if re.fullmatch(r"x\d?", k))
    targets = tuple(v for k, v in sorted(given.items()) if re.fullmatch(r"y\d?", k))
    outline = problem.exercise.outline
    sizes = [int(n) for n in outline[1].split("-")]
    activations, loss = outline[2:-1], outline[-1]
    draft = Network(inputs, targets, tuple(Layer((), (), a) for a in activations), loss)
    layers = []
    for layer_names, activation, units in zip(names_of(_sized(draft, sizes)), activations, sizes[1:]):
        weights = tuple(tuple(given[s.name] for s in row) for row in layer_names.weights)
        layers.append(Layer(weights, tuple(given[s.name] for s in layer_names.biases), activation))
    return Network(inputs, targets, tuple(layers), loss)


def _sized(network, sizes):
    from exgen.topics.networks import Layer, Network

    layers = tuple(Layer(((0,) * n_in,) * n_out, (0,) * n_out, layer.activation)
                   for layer, n_in, n_out in zip(network.layers, sizes, sizes[1:]))
    return Network(network.inputs, network.targets, layers, network.loss)


@pytest.mark.parametrize("level", LEVELS)
def test_every_matrix_gradient_component_is_sympys(level):
    """The matrix form's value, component by component, is SymPy's gradient
    (at random points), and the value at the point is SymPy's there."""
    for seed in range(8):
        for problem in sheet("matrix-calculus", level, seed, count=3).problems:
            f = to_elementary(problem.exercise.expr)
            wrt = problem.exercise.wrt
            matrix_row = next(r for r in problem.exercise.worked.rows if r.label == "in matrix form")
            for component, w in zip(matrix_row.value, wrt):
                difference = to_elementary(component) - sp.diff(f, w)
                for values in (("0.3", "-1.2", "0.7"), ("1.1", "0.4", "-0.6")):
                    at = dict(zip(wrt, map(sp.Rational, values)))
                    assert abs(difference.subs(at).evalf(30)) < 1e-20
            if problem.at:
                for value, w in zip(problem.values, wrt):
                    want = sp.diff(f, w).subs(dict(problem.at)).evalf(30)
                    assert abs(to_elementary(value).evalf(30) - want) < 1e-20


@pytest.mark.parametrize("topic", NEW)
def test_a_wrong_row_is_caught(topic):
    """Break the key once: a value off by a factor, or a form that is not the value, fails the check."""
    problem = sheet(topic, "medium", 1, count=1).problems[0]
    worked = problem.exercise.worked
    variables, domain = problem.exercise.variables, problem.exercise.domain
    import random

    assert check_worked(worked, variables, domain, random.Random(1)).ok
    for position, row in enumerate(worked.rows):
        if row.role not in ("delta", "gradient", "forward") and topic == "backprop":
            continue
        for broken in (dataclasses.replace(row, value=row.value * sp.Rational(1001, 1000)),
                       dataclasses.replace(row, forms=row.forms[:-1] + (row.forms[-1] * sp.Rational(999, 1000),))):
            rows = list(worked.rows)
            rows[position] = broken
            sections = ((worked.sections[0][0], tuple(rows)),)
            bad = dataclasses.replace(worked, sections=sections)
            assert not check_worked(bad, variables, domain, random.Random(1)).ok, (position, row.label)


# ---------------------------------------------------------------------------
# Decimals
# ---------------------------------------------------------------------------

def test_decimals_print_values_rounded_from_the_exact_ones(tmp_path):
    out = tmp_path / "out"
    result = run_cli("make", "--count", "4", "--seed", "5", "--topics", "backprop", "--decimals", "4",
                     "--no-pdf", "--out", out)
    assert result.exit_code == 0, result.output
    document = json.loads((out / "sheet.json").read_text())
    checked = 0
    for problem in document["problems"]:
        for row in problem["worked"]:
            if "approx" not in row:
                continue
            assert re.fullmatch(r"-?\d+\.\d{4}", row["approx"]), row["approx"]
            names = sorted(set(re.findall(r"[A-Za-z_]\w*", row["value"])) - {"exp", "log", "tanh", "Max"})
            assert not names, names
            exact = sp.sympify(row["value"]).evalf(40)
            assert abs(sp.Rational(row["approx"]) - exact) <= sp.Rational(1, 2 * 10**4), row
            checked += 1
    assert checked > 10
    guidebook = (out / "guidebook.tex").read_text()
    assert r"\approx" in guidebook
    assert "4 decimal places" in (out / "exercises.tex").read_text()


def test_decimals_change_the_sheet_code_and_nothing_else_drawn():
    plain = build_sheet(SheetOptions(count=3, seed=2, topics=NEW))
    rounded = build_sheet(SheetOptions(count=3, seed=2, topics=NEW, decimals=3))
    assert plain.options.code != rounded.options.code
    assert [p.check for p in plain.problems] == [p.check for p in rounded.problems]


@pytest.mark.parametrize("value", ["-1", "11", "four"])
def test_bad_decimals_is_one_line(value, tmp_path):
    run = run_main("make", "--count", "1", "--decimals", value, "--no-pdf", "--out", tmp_path / "o")
    assert_user_error(run, "--decimals")


@pytest.mark.parametrize("line, fragment", [("decimals = 4", None), ("decimals = 12", "decimals"),
                                            ('decimals = "4"', "decimals")])
def test_decimals_in_a_config(tmp_path, line, fragment):
    config = tmp_path / "week.toml"
    config.write_text(f'title = "Backprop"\nseed = 3\n{line}\n')
    run = run_main("make", "--config", config, "--count", "1", "--topics", "backprop", "--no-pdf",
                   "--out", tmp_path / "o")
    if fragment is None:
        assert run.code == 0, run.stderr
        assert json.loads((tmp_path / "o" / "manifest.json").read_text())["options"]["decimals"] == 4
    else:
        assert_user_error(run, "week.toml", fragment)


# ---------------------------------------------------------------------------
# Reproducibility and versions
# ---------------------------------------------------------------------------

def test_the_same_seed_gives_the_same_sheet_in_one_process_or_two():
    options = SheetOptions(count=6, seed=9, topics=NEW, decimals=4)
    one = build_versions(options, jobs=1)[0]
    again = build_versions(options, jobs=2)[0]
    assert sheet_json(one) == sheet_json(again)
    assert render_documents(one) == render_documents(again)


def test_parallel_versions_ask_the_same_kind_of_network():
    sheets = build_versions(SheetOptions(count=3, seed=4, topics=("backprop",), versions=2))
    for a, b in zip(*(s.problems for s in sheets)):
        assert a.signature == b.signature
        assert a.identity != b.identity
