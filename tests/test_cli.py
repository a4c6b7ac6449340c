"""The command line: help everywhere, `exgen topics`, every error path as one
clear line (no traceback, non-zero exit), and `exgen solve` in its three
formats, its answers confirmed by sympy.diff.
"""

import json

import click
import pytest
import sympy as sp

import exgen
from exgen.cli import cli
from exgen.topics import TOPICS

from helpers import (X, Y, assert_user_error, compare, console_script, parse_plain, run_cli, run_exgen,
                     run_main, spread_points)


# ---------------------------------------------------------------------------
# Help, version, topics
# ---------------------------------------------------------------------------

def walk(command, path=()):
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            yield from walk(sub, path + (name,))


COMMANDS = list(walk(cli))


@pytest.mark.parametrize("path, command", COMMANDS, ids=[" ".join(p) or "exgen" for p, _ in COMMANDS])
def test_every_command_has_help(path, command):
    assert (command.help or "").strip(), f"exgen {' '.join(path)} has no help text"
    for flag in ("--help", "-h"):
        result = run_cli(*path, flag)
        assert result.exit_code == 0
        assert "Usage:" in result.output
        assert command.help.strip().splitlines()[0] in result.output


def test_the_commands_of_the_readme_exist():
    assert {"make", "topics", "solve"} <= set(cli.commands)


def test_every_option_has_help():
    missing = [f"exgen {' '.join(path)} {param.opts[0]}"
               for path, command in COMMANDS for param in command.params
               if isinstance(param, click.Option) and not (param.help or "").strip()]
    assert not missing, f"options without help text: {missing}"


def test_version():
    result = run_cli("--version")
    assert result.exit_code == 0
    assert exgen.__version__ in result.output and "exgen" in result.output


def test_console_script_runs(tmp_path):
    if console_script() is None:
        pytest.fail("the exgen console script is not installed (pip install -e .)")
    run = run_exgen("--version", cwd=tmp_path)
    assert run.code == 0 and exgen.__version__ in run.stdout


def test_the_console_script_ends_with_its_exit_code_and_all_its_output(tmp_path):
    """The command ends without tearing down the interpreter (exgen.cli.run):
    nothing printed may be lost, and the exit code is main()'s."""
    made = run_exgen("make", "--count", "2", "--seed", "1", "--no-pdf", "--out", tmp_path / "o", cwd=tmp_path)
    assert made.code == 0, made.stderr
    assert made.stdout.splitlines()[-1].strip().endswith("sheet.json")
    bare = run_exgen(cwd=tmp_path)
    shown = bare.stdout + bare.stderr  # click 8.1 prints the help to stdout and exits 0; 8.2 on stderr with 2
    assert bare.code in (0, 2) and shown.startswith("Usage: exgen") and "error" not in shown


def test_topics_lists_every_registered_topic_with_levels_and_description():
    result = run_cli("topics")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    for name, entry in TOPICS.items():
        matching = [line for line in lines if line.split() and line.split()[0] == name]
        assert len(matching) == 1, f"topic {name!r} is not listed once"
        line = matching[0]
        assert "/".join(entry.levels) in line
        assert entry.description.split()[0] in line


# ---------------------------------------------------------------------------
# exgen make: error paths (one line, non-zero, no traceback, nothing written)
# ---------------------------------------------------------------------------

MAKE_ERRORS = [
    (["--count", "0"], "--count"),
    (["--count", "-1"], "--count"),
    (["--count", "201"], "--count"),
    (["--count", str(10**9)], "--count"),
    (["--count", "abc"], "--count"),
    (["--count", ""], "--count"),
    (["--seed", "-1"], "--seed"),
    (["--seed", "1.5"], "--seed"),
    (["--seed", "seven"], "--seed"),
    (["--topics", "chian"], "'chain'"),              # suggests the nearest name
    (["--topics", "chain,prodcut"], "'product'"),
    (["--topics", "zzzz"], "zzzz"),
    (["--topics", ","], "--topics"),
    (["--difficulty", "hrad"], "'hard'"),
    (["--difficulty", "impossible"], "impossible"),
    (["--difficulty", "hard", "--topics", "power"], "hard"),   # power has no hard level
    (["--difficulty", "easy", "--topics", "quotient"], "easy"),
    (["--bogus-option"], "--bogus-option"),
]


@pytest.mark.parametrize("args, fragment", MAKE_ERRORS, ids=[" ".join(a) for a, _ in MAKE_ERRORS])
def test_make_errors_are_one_clear_line(args, fragment, tmp_path):
    run = run_main("make", "--no-pdf", "--out", tmp_path / "out", *args)
    assert_user_error(run, fragment)
    assert run.stdout == ""
    assert not list(tmp_path.glob("out/*")), "a refused run must not write files"


def test_refused_options_create_no_folder(tmp_path):
    run = run_main("make", "--no-pdf", "--count", "0", "--out", tmp_path / "fresh")
    assert_user_error(run, "--count")
    assert not (tmp_path / "fresh").exists()


def test_out_pointing_at_a_file(tmp_path):
    target = tmp_path / "file.txt"
    target.write_text("keep me")
    run = run_main("make", "--count", "2", "--no-pdf", "--out", target)
    assert_user_error(run, str(target))
    assert target.read_text() == "keep me"


def test_make_error_through_the_console_script(tmp_path):
    run = run_exgen("make", "--count", "0", "--no-pdf", "--out", tmp_path / "o", cwd=tmp_path)
    assert_user_error(run, "--count")


def test_make_default_folder_is_output_seed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run_cli("make", "--count", "2", "--seed", "4", "--no-pdf")
    assert result.exit_code == 0
    names = {p.name for p in (tmp_path / "output" / "seed-4").iterdir()}
    assert {"exercises.tex", "guidebook.tex", "sheet.json"} <= names
    assert not any(name.endswith(".pdf") for name in names)


# ---------------------------------------------------------------------------
# exgen solve: error paths
# ---------------------------------------------------------------------------

SOLVE_ERRORS = [
    ("x**", None),                                   # syntax error
    ("sin(x", None),
    ("x +* y", None),
    ("", None),
    ("sinh(x)", "sinh"),                               # unknown function
    ("cot(x)", "cot"),
    ("x**10**10", None),                             # huge
    ("2**10**10", None),
    ("9**9**9**9", None),
    ("10**400*x", None),
    ("(" * 300 + "x" + ")" * 300, None),             # deeply nested
    ("x" + "**-1" * 400, None),
    ("__import__('os')", "__import__"),
    ("__import__('os').system('echo pwned')", "__import__"),
    ("x.__class__", None),
    ("lambda: 1", None),
    ("x; y", None),
    ("'abc'", None),
    ("x[0]", None),
    ("x @ y", None),
    ("x*" * 1500 + "x", None),                       # too long
    ("exp(x)*y", "--wrt"),                           # several variables: choose one
]


@pytest.mark.parametrize("text, fragment", SOLVE_ERRORS, ids=[t[:40] for t, _ in SOLVE_ERRORS])
def test_solve_errors_are_one_clear_line(text, fragment):
    run = run_main("solve", text)
    assert_user_error(run, *([fragment] if fragment else []))
    assert "pwned" not in run.stdout
    assert run.stdout == ""


@pytest.mark.parametrize("args", [["x", "--format", "pdf"], ["x*y", "--wrt", ""], [],
                                  ["x", "--wrt", ","]])
def test_solve_bad_options(args):
    assert_user_error(run_main("solve", *args))


@pytest.mark.parametrize("text", ["1/0", "x/0", "1/(x - x)", "0**x", "log(0)*x", "log(log(log(2, 2), 2), 2)"])
def test_solve_division_by_zero_is_a_clear_error(text):
    assert_user_error(run_main("solve", text))


@pytest.mark.parametrize("wrt", ["1x", "x+y", "sin(x)", "x y"])
def test_solve_refuses_a_wrt_that_is_not_a_variable_name(wrt):
    assert_user_error(run_main("solve", "x*y", "--wrt", wrt))


@pytest.mark.parametrize("text", ["log(exp(exp(x**(-6))))", "(10*x)^400", "x^20000 + 2^(x + 10^400)",
                                  "1.0001^(20000*x)"])
def test_solve_astronomical_expression_never_crashes(text):
    run = run_main("solve", text)
    assert "Traceback" not in run.stderr
    if run.code != 0:
        assert_user_error(run)


def test_solve_error_through_the_console_script(tmp_path):
    run = run_exgen("solve", "__import__('os').system('touch pwned')", cwd=tmp_path)
    assert_user_error(run, "__import__")
    assert not (tmp_path / "pwned").exists()
    run = run_exgen("solve", "sinh(x)", cwd=tmp_path)
    assert_user_error(run, "sinh")


# ---------------------------------------------------------------------------
# exgen solve: output
# ---------------------------------------------------------------------------

SOLVE_CASES = ["x**2*sin(3*x)", "exp(sin(x**2))", "x/(x**2 + 1)", "log(x**2 + 1, 2)", "2**x",
               "x**x", "sqrt(x)*log(x)", "sigmoid(3*x)", "tanh(x)**2", "(x + 1)**(-2)"]


def json_nodes(node):
    yield node
    for sub in node["substeps"]:
        yield from json_nodes(sub)


def assert_json_node_derivatives(tree, names):
    """Each JSON node's result is sympy.diff of its expr with respect to its wrt."""
    for node in json_nodes(tree):
        assert set(node) == {"rule", "wrt", "expr", "result", "latex", "substeps"}
        assert isinstance(node["substeps"], list) and node["latex"]
        local = set(names) | {node["wrt"]}
        expr, result = parse_plain(node["expr"], local), parse_plain(node["result"], local)
        symbols = sorted(expr.free_symbols | result.free_symbols | {sp.Symbol(node["wrt"], real=True)},
                         key=lambda s: s.name)
        usable, bad = compare(result, sp.diff(expr, sp.Symbol(node["wrt"], real=True)), spread_points(symbols))
        assert not bad and usable >= 3, (node["rule"], node["expr"], node["result"], bad)


@pytest.mark.parametrize("text", SOLVE_CASES)
def test_solve_json_contract_and_answer(text):
    result = run_cli("solve", text, "--format", "json")
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert set(data) >= {"expr", "variables", "wrt", "answer", "answer_latex", "steps"}
    assert data["variables"] == ["x"] and data["wrt"] == "x"
    assert isinstance(data["answer"], str) and isinstance(data["answer_latex"], str)
    expr = parse_plain(data["expr"], ["x"])
    typed = parse_plain(text.replace("sigmoid(3*x)", "1/(1 + exp(-3*x))"), ["x"])
    assert compare(expr, typed, spread_points([X]))[1] == [], "expr is not what was typed"
    answer = parse_plain(data["answer"], ["x"])
    usable, bad = compare(answer, sp.diff(expr, X), spread_points([X]))
    assert not bad and usable >= 3
    assert data["steps"]["wrt"] == "x"
    assert parse_plain(data["steps"]["result"], ["x"]) == answer
    assert_json_node_derivatives(data["steps"], ["x"])
    chains = [n for n in json_nodes(data["steps"]) if n["rule"] == "chain"]
    for chain in chains:
        assert chain["substeps"][0]["wrt"] != chain["wrt"], "the outer step differentiates by u"


def test_solve_json_partial_derivatives_are_lists():
    result = run_cli("solve", "3*x**2*y + 2*y**3", "--wrt", "x,y", "--format", "json")
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["wrt"] == ["x", "y"] and data["variables"] == ["x", "y"]
    assert isinstance(data["answer"], list) and isinstance(data["answer_latex"], list)
    assert isinstance(data["steps"], list) and len(data["steps"]) == 2
    expr = parse_plain(data["expr"], ["x", "y"])
    points = spread_points([X, Y])
    for name, answer, tree in zip(["x", "y"], data["answer"], data["steps"]):
        assert tree["wrt"] == name
        usable, bad = compare(parse_plain(answer, ["x", "y"]), sp.diff(expr, sp.Symbol(name, real=True)), points)
        assert not bad and usable >= 3
        assert_json_node_derivatives(tree, ["x", "y"])


def test_partial_derivatives_use_partial_notation_whatever_the_letter():
    for letter in ("a", "s", "u"):
        body = run_cli("solve", f"{letter}**2*x", "--wrt", letter, "--format", "latex").output
        assert "\\partial %s" % letter in body and "\\frac{d}{d%s}" % letter not in body, letter


def test_solve_json_chain_variable_when_all_letters_are_taken():
    data = json.loads(run_cli("solve", "sin(x*u*v*w*s*r*q)", "--wrt", "x", "--format", "json").output)
    outer = data["steps"]["substeps"][0]
    assert outer["wrt"] not in data["variables"]
    assert_json_node_derivatives(data["steps"], data["variables"])


def test_solve_single_wrt_of_several_variables_is_a_string():
    data = json.loads(run_cli("solve", "x*exp(y)", "--wrt", "y", "--format", "json").output)
    assert data["wrt"] == "y" and isinstance(data["answer"], str)
    usable, bad = compare(parse_plain(data["answer"], ["x", "y"]), X * sp.exp(Y), spread_points([X, Y]))
    assert not bad and usable >= 3


@pytest.mark.parametrize("text", SOLVE_CASES[:6])
def test_solve_text_names_the_rules_and_ends_with_the_answer(text):
    result = run_cli("solve", text)
    assert result.exit_code == 0
    lines = result.output.strip().splitlines()
    assert lines[0].startswith("f(x) = ")
    assert any("rule" in line.lower() for line in lines[1:])
    # The key's last form is the answer: the same as --format json's, checked against sympy.diff.
    data = json.loads(run_cli("solve", text, "--format", "json").output)
    last = data["lines"][-1]["forms"][-1]
    usable, bad = compare(parse_plain(last, ["x"]), sp.diff(parse_plain(text, ["x"]), X), spread_points([X]))
    assert not bad and usable >= 3
    assert lines[-1].lstrip().startswith(("=", "f'(x) ="))


def test_solve_text_shows_product_and_chain_rules():
    worked = run_cli("solve", "x**2*sin(3*x)").output
    assert "Product rule" in worked and "(chain rule)" in worked  # sin 3x's derivative, done inside the line
    full = run_cli("solve", "x**2*sin(3*x)", "--key", "full").output
    assert "Product rule" in full and "Chain rule" in full and "Sine rule" in full


def test_solve_text_is_the_course_notation_not_sympy_internals():
    output = run_cli("solve", "sigmoid(3*x+1)*relu(x)").output
    assert "σ(3x + 1)" in output and "ReLU(x)" in output and "if x > 0" in output
    for internal in ("exp(-(", "Max(", "Piecewise", "**", "*"):
        assert internal not in output, internal
    assert "log" not in run_cli("solve", "log(x**2 + 1)").output.replace("log₃", "")
    assert "log₃" in run_cli("solve", "log(2*x + 2, 3)").output


@pytest.mark.parametrize("level", ["worked", "full", "answers"])
def test_solve_levels_in_every_format(level):
    text = run_cli("solve", "sin(log(2*x + 2, 3))", "--key", level).output
    data = json.loads(run_cli("solve", "sin(log(2*x + 2, 3))", "--key", level, "--format", "json").output)
    latex = run_cli("solve", "sin(log(2*x + 2, 3))", "--key", level, "--format", "latex").output
    assert data["key"] == level and data["lines"]
    assert r"\boxed" in latex and r"\begin{align*}" in latex
    counts = {"answers": 1, "worked": 3, "full": 6}
    assert len(data["lines"]) >= counts[level]
    if level == "answers":
        assert len(data["lines"]) == 1 and "rule" not in text.lower()
    assert len(run_cli("solve", "sin(log(2*x + 2, 3))", "--key", "full").output.splitlines()) > len(
        run_cli("solve", "sin(log(2*x + 2, 3))").output.splitlines()) > len(
        run_cli("solve", "sin(log(2*x + 2, 3))", "--key", "answers").output.splitlines())


def test_solve_refuses_an_unknown_key_level():
    assert_user_error(run_main("solve", "x**2", "--key", "brief"), "--key", "worked")


def test_solve_latex_is_a_block_to_paste(tmp_path, tex):
    result = run_cli("solve", "x**2*sin(3*x)", "--format", "latex")
    assert result.exit_code == 0
    body = result.output
    assert r"\begin{align*}" in body and body.rstrip().endswith(r"\end{align*}")
    # It pastes into a document and compiles.
    document = tmp_path / "paste.tex"
    document.write_text("\\documentclass{article}\n\\usepackage{amsmath}\n\\begin{document}\n"
                        + body + "\\end{document}\n")
    from exgen.compile import compile_one
    pdf = compile_one(tex, document)
    assert pdf.is_file() and pdf.stat().st_size > 0


def test_solve_json_through_the_console_script(tmp_path):
    run = run_exgen("solve", "x**2*sin(3*x)", "--format", "json", cwd=tmp_path)
    assert run.code == 0, run.stderr
    data = json.loads(run.stdout)
    usable, bad = compare(parse_plain(data["answer"], ["x"]), sp.diff(X**2 * sp.sin(3 * X), X),
                          spread_points([X]))
    assert not bad and usable >= 3
