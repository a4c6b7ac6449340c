"""`exgen solve` on the machine-learning rules typed by hand: the softmax
component against sympy.diff of its definition."""

import json
import random

import mpmath
import pytest
import sympy as sp

from helpers import assert_derivative, assert_user_error, run_cli, run_main

Z = sp.symbols("z1:4", real=True)


def test_softmax_component_by_every_logit():
    result = run_cli("solve", "softmax(2, z1, z2, z3)", "--wrt", "z1,z2,z3", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["wrt"] == ["z1", "z2", "z3"]
    definition = sp.exp(Z[1]) / (sp.exp(Z[0]) + sp.exp(Z[1]) + sp.exp(Z[2]))
    local = {z.name: z for z in Z}
    rng = random.Random(3)
    points = [{z: mpmath.mpf(rng.uniform(-2, 2)) for z in Z} for _ in range(5)]
    assert sp.parse_expr(data["expr"], local_dict=local).equals(definition)
    for z, answer, tree in zip(Z, data["answer"], data["steps"]):
        assert tree["rule"] == "softmax"
        assert_derivative(definition, z, sp.parse_expr(answer, local_dict=local), points)


def test_softmax_needs_a_component_number_inside_the_range():
    assert_user_error(run_main("solve", "softmax(4, z1, z2)"), "component")


T, X_, Y_ = sp.symbols("t x y", real=True)
OUTERS = ("x**2*y + y**3", "exp(x*y)", "x*sin(y) + 3*x", "log(x**2 + 1)*y")
PATHS = ("cos(t)", "t**2", "exp(t)", "3*t + 1", "sin(t)")


def _plain(text):
    return sp.parse_expr(text.replace("^", "**"), local_dict={"t": T, "x": X_, "y": Y_})


def test_multivariable_chain_by_let_matches_the_derivative_of_the_composition():
    rng = random.Random(11)
    points = [{T: mpmath.mpf(v)} for v in (-1.3, -0.4, 0.7, 1.9)]
    for _ in range(8):
        outer = rng.choice(OUTERS)
        x_t, y_t = rng.sample(PATHS, 2)
        result = run_cli("solve", outer, "--let", f"x={x_t}", "--let", f"y={y_t}", "--format", "json")
        assert result.exit_code == 0, result.output
        data = json.loads(result.output)
        assert data["wrt"] == "t" and data["chain"] == {"function": sp.sstr(_plain(outer)), "paths": {"x": x_t, "y": y_t}}
        composed = _plain(outer).subs({X_: _plain(x_t), Y_: _plain(y_t)})
        assert_derivative(composed, T, _plain(data["answer"]), points, context=f"{outer}, x={x_t}, y={y_t}")
        tree = data["steps"]
        if tree["rule"] == "simplify":  # the result tidied, shown as its own step
            (tree,) = tree["substeps"]
        assert tree["rule"] == "multivariable_chain"
        # f_x, f_y, then x'(t), y'(t): each partial by its own variable, each rate by t.
        assert [s["wrt"] for s in tree["substeps"]] == ["x", "y", "t", "t"]


def test_multivariable_chain_guidebook_shows_each_term_and_partials():
    worked = " ".join(run_cli("solve", "x**2*y", "--let", "x=cos(t)", "--let", "y=t^2", "--format", "latex")
                      .output.split())
    # The paths and each partial named before the line that uses them, then f_x x' + f_y y'.
    assert r"Multivariable chain rule, $x = \cos {t}$, $y = t^{2}$, $\frac{\partial f}{\partial x} = 2 x y$" in worked
    assert r"\frac{dz}{dt} & = 2 x y \cdot \left(- \sin {t}\right) + x^{2} \cdot 2 t" in worked
    full = " ".join(run_cli("solve", "x**2*y", "--let", "x=cos(t)", "--let", "y=t^2", "--format", "latex", "--key",
                            "full").output.split())
    assert r"\frac{\partial f}{\partial x} & = y \cdot 2 x" in full
    assert r"\frac{dx}{dt} & = - \sin {t}" in full


def test_a_path_may_be_called_z():
    result = run_cli("solve", "z*y", "--let", "z=cos(t)", "--let", "y=t", "--format", "json")
    data = json.loads(result.output)
    assert data["chain"] == {"function": "y*z", "paths": {"z": "cos(t)", "y": "t"}}
    text = run_cli("solve", "z*y", "--let", "z=cos(t)", "--let", "y=t").output
    assert text.splitlines()[0] == "z = f(z, y) = yz, z = cos t, y = t"


def test_let_mistakes_are_one_line_errors():
    assert_user_error(run_main("solve", "x*y", "--let", "x cos(t)"), "--let", "=")
    assert_user_error(run_main("solve", "x*y", "--let", "q=cos(t)"), "no variable q")
    assert_user_error(run_main("solve", "x*y*t", "--let", "x=cos(t)"), "uses t directly")
    assert_user_error(run_main("solve", "x*y", "--let", "x=cos(t)", "--let", "y=exp(s)"), "--wrt")
    assert_user_error(run_main("solve", "x*y", "--let", "x=cos(t)", "--let", "x=t"), "twice")
    assert_user_error(run_main("solve", "x*y", "--let", "x=cos(t)", "--let", "y=x*t"), "another --let")
    assert_user_error(run_main("solve", "x*y", "--let", "x=t", "--let", "y=t", "--wrt", "t,s"), "one variable")
    assert_user_error(run_main("solve", "x*y", "--let", "x=t", "--let", "y=t", "--wrt", "x"), "depends on x")
    assert_user_error(run_main("solve", "x*y", "--let", "x=5", "--let", "y=3"), "constants")
    assert_user_error(run_main("solve", "x*y", "--let", "x="), "empty")
    assert_user_error(run_main("solve", "x*log(y)", "--let", "x=t", "--let", "y=t-t"), "undefined")


def test_solve_refuses_what_is_real_nowhere_it_looks():
    for text in ("log(-x**2 - 1)", "sqrt(x - 5) + sqrt(4 - x)"):
        assert_user_error(run_main("solve", text), "no real value")


@pytest.mark.parametrize("text, inside", [
    ("sqrt(x - 5)", (5.5, 7, 12)),
    ("log(-x)", (-3, -0.5, -9)),
    ("sqrt(5 - x) + x**2", (-4, 0, 4.5)),
    ("x*log(x - 200)", (201, 250, 999)),
])
def test_solve_handles_functions_defined_away_from_zero(text, inside):
    result = run_cli("solve", text, "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    x = sp.Symbol("x", real=True)
    expr = sp.parse_expr(data["expr"], local_dict={"x": x})
    assert_derivative(expr, x, sp.parse_expr(data["answer"], local_dict={"x": x}),
                      [{x: mpmath.mpf(v)} for v in inside], context=text)
