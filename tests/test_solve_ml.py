"""`exgen solve` on the machine-learning rules typed by hand: the softmax
component against sympy.diff of its definition."""

import json
import random

import mpmath
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
