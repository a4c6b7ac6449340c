"""Fuzzing the entry points a user types into: `exgen solve` expressions and
sheet configs. No input may produce a traceback (anything but an ExgenError)
or a wrong derivative."""

import random

import mpmath
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from exgen.config import load_config
from exgen.errors import ExgenError
from exgen.solving import solve_expression
from helpers import assert_derivative, run_main

FUNCTIONS = ("sin", "cos", "exp", "log", "tanh", "sqrt", "sigmoid", "ln")
ATOMS = ("x", "2", "3", "1/2", "x**2", "y", "pi", "e")


@st.composite
def expressions(draw, depth=3):
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from(ATOMS))
    kind = draw(st.sampled_from(("func", "binary", "binary", "power", "log_base")))
    if kind == "func":
        return f"{draw(st.sampled_from(FUNCTIONS))}({draw(expressions(depth - 1))})"
    if kind == "power":
        return f"({draw(expressions(depth - 1))})**{draw(st.sampled_from(('2', '3', '-1', '1/2', 'x')))}"
    if kind == "log_base":
        return f"log({draw(expressions(depth - 1))}, {draw(st.sampled_from(('2', '10')))})"
    op = draw(st.sampled_from(("+", "-", "*", "/")))
    return f"({draw(expressions(depth - 1))}){op}({draw(expressions(depth - 1))})"


@settings(max_examples=150)
@given(expressions())
def test_solve_never_crashes_and_is_never_wrong(text):
    try:
        solved = solve_expression(text, "x")
    except ExgenError:
        return
    x = sp.Symbol("x", real=True)
    y = sp.Symbol("y", real=True)
    rng = random.Random(text)
    points = [{x: mpmath.mpf(rng.uniform(0.3, 2.5)), y: mpmath.mpf(rng.uniform(0.3, 2.5))} for _ in range(8)]
    tree = solved.trees[0]
    # Only points where the function itself is defined count; a function
    # defined almost nowhere (log(-x^2-3)) may leave none, and then nothing
    # is compared (exgen refused or confirmed it by its own check).
    assert_derivative(solved.expr, x, tree.result, points, min_usable=0, context=text)


printable = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200)


@settings(max_examples=150)
@given(printable)
def test_solve_on_arbitrary_text_gives_one_line_errors(text):
    if "\x00" in text:
        return
    run = run_main("solve", text)
    assert "Traceback" not in run.stderr
    if run.code != 0:
        assert run.stderr.startswith("exgen: error: ") and len(run.stderr.strip().splitlines()) == 1


TOML_PIECES = st.sampled_from((
    'title = "Week 1"', "seed = 3", "seed = -1", 'seed = "x"', "versions = 2", "shuffle = true",
    "[[sections]]", "count = 4", "count = 0", "count = 1000", 'difficulty = "easy"', 'difficulty = "hardd"',
    'topics = ["power", "chain"]', 'topics = ["nope"]', "topics = 3", "colour = 1", "= broken", "[table",
    'title = """unterminated', "count = 2.5", "at_point = 1", '[[sections]]\ncount = 2\ntopics = ["ml"]',
))


@settings(max_examples=200)
@given(st.lists(TOML_PIECES, max_size=8), st.binary(max_size=40))
def test_config_parser_never_crashes(tmp_path_factory, pieces, noise):
    path = tmp_path_factory.mktemp("cfg") / "week.toml"
    data = "\n".join(pieces).encode()
    if noise and noise[0] % 3 == 0:
        data += noise
    path.write_bytes(data)
    try:
        options = load_config(path)
    except ExgenError as exc:
        message = str(exc)
        assert message.startswith(str(path)) and "\n" not in message
        return
    assert isinstance(options, dict)
