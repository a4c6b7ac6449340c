"""Fuzzing the entry points a user types into: `exgen solve` expressions and
sheet configs. No input may produce a traceback (anything but an ExgenError)
or a wrong derivative."""

import random
from dataclasses import dataclass

import mpmath
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from exgen.config import load_config
from exgen.errors import ExgenError
from exgen.parsing import parse_user_expression
from exgen.solving import solve_expression
from helpers import X, assert_derivative, compare, run_main, spread_points

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


# ---------------------------------------------------------------------------
# What instructors type: implicit products, functions without brackets,
# names. Each expression is drawn twice, as typed on paper and fully
# explicit; plain SymPy reads the explicit one.
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Typed:
    typed: str
    explicit: str
    starts_number: bool = False  # "3x": a number may not follow another factor
    ends_bare: bool = False  # "sin x": only a function may follow it
    function_first: bool = False  # "sin x", "cos(x)": may follow a bare function
    loose: bool = False  # a sum or quotient: brackets inside a product
    single: bool = True  # one factor: may be a denominator as it is
    simple: bool = False  # may be a bracketless function's argument
    number: bool = False
    # Holds an exponential: one is enough. sin(e^(e^(3x^3))) at x = 2.7 makes
    # the reference's mpmath compute pi to millions of digits (it hung).
    exponential: bool = False
    letters: bool = False  # ends with "xy" (x*y): an operand after a space would make it a function (tan x)


NAMES = (("x", "x"), ("x", "x"), ("y", "y"), ("y_hat", "yhat"), ("yhat", "yhat"), ("w_k", "w_k"),
         ("z_1", "z1"), ("z1", "z1"))
TYPED_FUNCTIONS = (("sin", "sin"), ("cos", "cos"), ("exp", "exp"), ("ln", "log"), ("tanh", "tanh"),
                   ("sqrt", "sqrt"), ("log_2", "log2"))


def _bracket(t: Typed) -> Typed:
    return Typed(f"({t.typed})", t.explicit, exponential=t.exponential)


@st.composite
def typed_expressions(draw, depth=3):
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        kind = draw(st.sampled_from(("number", "name", "name", "monomial", "pi", "letters")))
        if kind == "letters":
            word = draw(st.sampled_from(("xy", "yx", "xyz", "kx")))
            return Typed(word, "(" + "*".join(word) + ")", single=False, letters=True)
        if kind == "number":
            n = draw(st.sampled_from(("2", "3", "0.5", "7")))
            return Typed(n, n, starts_number=True, number=True)
        if kind == "pi":
            return Typed("pi", "pi")
        typed, name = draw(st.sampled_from(NAMES))
        if kind == "name":
            return Typed(typed, name, simple=True)
        c, n = draw(st.sampled_from(("2", "3", "0.5"))), draw(st.sampled_from(("", "2", "3")))
        power = f"^{n}" if n else ""
        return Typed(f"{c}{typed}{power}", f"{c}*{name}" + (f"**{n}" if n else ""), starts_number=True, simple=True)
    kind = draw(st.sampled_from(("function", "product", "product", "sum", "quotient", "power", "e_power",
                                 "functions")))
    if kind == "functions":
        # Functions side by side, as in 2sin x cos x: each name ends the argument before it.
        count = draw(st.integers(2, 3))
        applications = [draw(typed_expressions(depth=1).filter(lambda t: t.function_first)) for _ in range(count)]
        coefficient = draw(st.sampled_from(("", "2", "3")))
        typed = coefficient + " ".join(a.typed for a in applications)
        explicit = "*".join([coefficient or "1"] + [f"({a.explicit})" for a in applications])
        return Typed(typed, explicit, starts_number=bool(coefficient), ends_bare=applications[-1].ends_bare,
                     function_first=not coefficient, single=False,
                     exponential=any(a.exponential for a in applications))
    if kind == "function":
        typed_name, name = draw(st.sampled_from(TYPED_FUNCTIONS))
        argument = draw(typed_expressions(depth - 1))
        if name == "exp" and argument.exponential:
            argument = Typed("x", "x", simple=True)
        explicit_of = (lambda e: f"log({e}, 2)") if name == "log2" else (lambda e: f"{name}({e})")
        squared = draw(st.booleans()) and name != "log2"
        head = f"{typed_name}^2" if squared else typed_name
        wrap = (lambda e: f"({e})**2") if squared else (lambda e: e)
        grows = argument.exponential or name == "exp"
        if argument.simple and draw(st.booleans()):
            return Typed(f"{head} {argument.typed}", wrap(explicit_of(argument.explicit)), ends_bare=True,
                         function_first=True, exponential=grows)
        return Typed(f"{head}({argument.typed})", wrap(explicit_of(argument.explicit)), function_first=True,
                     exponential=grows)
    if kind == "power":
        base = draw(typed_expressions(depth - 1))
        n = draw(st.sampled_from(("2", "3", "-1")))
        if base.simple and not base.starts_number:
            return Typed(f"{base.typed}^{n}", f"({base.explicit})**({n})", exponential=base.exponential)
        return Typed(f"({base.typed})^{n}", f"({base.explicit})**({n})", exponential=base.exponential)
    if kind == "e_power":
        exponent = draw(typed_expressions(depth - 1))
        if exponent.exponential:
            exponent = Typed("x", "x", simple=True)
        if exponent.simple and not exponent.starts_number:
            sign = draw(st.sampled_from(("", "-")))
            return Typed(f"e^{sign}{exponent.typed}", f"exp({sign}({exponent.explicit}))", exponential=True)
        return Typed(f"e^({exponent.typed})", f"exp({exponent.explicit})", exponential=True)
    a, b = draw(typed_expressions(depth - 1)), draw(typed_expressions(depth - 1))
    grows = a.exponential or b.exponential
    if kind == "sum":
        op = draw(st.sampled_from(("+", "-")))
        if b.loose:
            b = _bracket(b)
        return Typed(f"{a.typed} {op} {b.typed}", f"({a.explicit}) {op} ({b.explicit})", loose=True, single=False,
                     exponential=grows)
    if kind == "quotient":
        if a.loose or a.ends_bare:
            a = _bracket(a)
        if not (b.single and (b.number or not b.starts_number) and not b.ends_bare and not b.loose
                and not b.typed.startswith("-")):
            b = _bracket(b)
        return Typed(f"{a.typed}/{b.typed}", f"({a.explicit})/({b.explicit})", loose=True, single=False,
                     exponential=grows)
    # A product side by side: "2x", "2sin x", "x sin x", "sin x cos x", "x(x + 1)".
    if a.loose or a.letters or (a.ends_bare and not b.function_first):
        a = _bracket(a)
    if b.loose or b.starts_number or b.typed.startswith("-"):
        b = _bracket(b)
    glue = "" if a.number else " "
    return Typed(f"{a.typed}{glue}{b.typed}", f"({a.explicit})*({b.explicit})",
                 starts_number=a.starts_number, ends_bare=b.ends_bare, function_first=a.function_first,
                 single=False, exponential=grows, letters=b.letters)


def _plain(explicit: str, evaluate: bool = True) -> sp.Expr:
    names = {n: sp.Symbol(n, real=True) for n in ("x", "y", "z", "k", "yhat", "w_k", "z1")}
    return sp.parse_expr(explicit, local_dict=names, evaluate=evaluate)


@settings(max_examples=300, deadline=None)
@given(typed_expressions())
def test_typed_expressions_read_as_their_explicit_form(pair):
    try:
        got, _ = parse_user_expression(pair.typed)
    except ExgenError as exc:
        # Only what SymPy itself finds undefined (1/0, log(0)) may be refused.
        assert any(word in str(exc) for word in ("undefined", "not real", "too large")), (pair.typed, str(exc))
        return
    expected = _plain(pair.explicit)
    # No variable invented or lost: the reader keeps those SymPy keeps, and
    # may keep one SymPy's evaluation cancels (x/sqrt(xy)^2 is 1/y to SymPy;
    # x/x is 1 to both).
    typed = _plain(pair.explicit, evaluate=False)
    names = {s.name for s in got.free_symbols}
    assert {s.name for s in expected.free_symbols} <= names <= {s.name for s in typed.free_symbols}, pair
    symbols = sorted(got.free_symbols, key=lambda s: s.name) or [X]
    usable, bad = compare(got, expected, spread_points(symbols))
    assert not bad, (pair.typed, pair.explicit, bad[:2])


@settings(max_examples=60, deadline=None)
@given(typed_expressions(depth=2))
def test_solve_on_typed_expressions_is_never_wrong(pair):
    try:
        solved = solve_expression(pair.typed, "x")
    except ExgenError:
        return
    rng = random.Random(pair.typed)
    symbols = sorted(set(solved.expr.free_symbols) | {X}, key=lambda s: s.name)
    points = [{s: mpmath.mpf(rng.uniform(0.3, 2.5)) for s in symbols} for _ in range(8)]
    assert_derivative(solved.expr, X, solved.trees[0].result, points, min_usable=0, context=pair.typed)


# Text drawn from the reader's own alphabet reaches far deeper than arbitrary
# Unicode: names, functions, implicit products, powers, brackets.
typed_text = st.text(alphabet="xyzkwefgpqhsinclotaqr_^*/+-(), 0123456789.", max_size=40)


@settings(max_examples=1500, deadline=None)
@given(typed_text)
def test_the_reader_never_fails_but_with_one_line(text):
    try:
        expr, variables = parse_user_expression(text)
    except ExgenError as exc:
        assert "\n" not in str(exc) and str(exc)
        return
    assert isinstance(expr, sp.Expr) and all(v.is_Symbol for v in variables)


@settings(max_examples=100, deadline=None)
@given(typed_text)
def test_solve_on_typed_text_gives_one_line_errors(text):
    run = run_main("solve", text, "--wrt", "x")
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
