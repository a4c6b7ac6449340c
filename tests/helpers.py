"""Helpers shared by the tests: running the command line, external tools, and
an independent numeric reference for derivatives.

The reference here never uses exgen's step engine or its oracle
(`exgen.check`): it differentiates with `sympy.diff` and compares values with
mpmath at points the tests choose. The only exgen code it uses is
`exgen.registry.to_elementary` (the rewrite of sigma, log_k and ReLU into
SymPy's own functions), which is a definition, not a derivative.
"""

import contextlib
import io
import os
import random
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import mpmath
import pytest
import sympy as sp
from click.testing import CliRunner
from sympy.core.function import AppliedUndef

from exgen.registry import to_elementary

ROOT = Path(__file__).resolve().parent.parent
X = sp.Symbol("x", real=True)
Y = sp.Symbol("y", real=True)

# ---------------------------------------------------------------------------
# External tools: in CI a missing tool fails the test; elsewhere it skips.
# ---------------------------------------------------------------------------

TEX_HINT = "TeX Live: apt-get install texlive-latex-base texlive-latex-recommended lmodern"


def require_tool(name: str, why: str) -> str:
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed ({why})"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI is set, so tests that need it must run, not skip")
        pytest.skip(f"{message}; set CI=1 to make this a failure")
    return path


def verify_sheet_path() -> Path:
    """The reference checker: a separate program that shares no code with exgen."""
    candidates = [os.environ.get("EXGEN_VERIFY_SHEET"),
                  ROOT.parent / "shared" / "tools" / "verify_sheet.py"]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    message = "the reference checker verify_sheet.py is not found (set EXGEN_VERIFY_SHEET)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def run_verify_sheet(*paths: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(verify_sheet_path()), *map(str, paths)],
                          capture_output=True, text=True, timeout=170)


def pdf_text(pdf: Path, layout: bool = False) -> str:
    tool = require_tool("pdftotext", "apt-get install poppler-utils")
    command = [tool, "-enc", "UTF-8"] + (["-layout"] if layout else []) + [str(pdf), "-"]
    return subprocess.run(command, check=True, capture_output=True, text=True, timeout=60).stdout


# ---------------------------------------------------------------------------
# Running the command line
# ---------------------------------------------------------------------------

@dataclass
class Run:
    code: int
    stdout: str
    stderr: str


def run_cli(*args):
    """CliRunner on the click group; exceptions propagate (tracebacks stay visible)."""
    from exgen.cli import cli

    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def run_main(*args) -> Run:
    """exgen.cli.main(argv) in process: the layer that prints user errors."""
    from exgen.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main([str(a) for a in args])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return Run(code, out.getvalue(), err.getvalue())


def console_script() -> str | None:
    """The installed `exgen` console script (next to this interpreter, else on PATH)."""
    beside = Path(sys.executable).parent / "exgen"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("exgen")


def exgen_command() -> list[str]:
    script = console_script()
    if script:
        return [script]
    return [sys.executable, "-c", "from exgen.cli import main; main()"]


def run_exgen(*args, cwd: Path | None = None, env: dict | None = None, timeout: float = 170) -> Run:
    """The real command in a fresh process."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    process = subprocess.run(exgen_command() + [str(a) for a in args], cwd=cwd, env=full_env,
                             capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    return Run(process.returncode, process.stdout, process.stderr)


def assert_user_error(run: Run, *fragments: str, one_line: bool = True) -> str:
    """Non-zero exit, one line on stderr starting `exgen: error:`, no traceback."""
    assert run.code != 0, f"expected a failure, got exit 0; stdout={run.stdout!r}"
    assert "Traceback" not in run.stderr + run.stdout, run.stderr
    lines = run.stderr.strip().splitlines()
    assert lines, "nothing on stderr"
    if one_line:
        assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{run.stderr}"
    line = lines[0]
    assert line.startswith("exgen: error: "), line
    assert len(line) > len("exgen: error: ") + 10, f"the error says nothing useful: {line!r}"
    for fragment in fragments:
        assert fragment in run.stderr, f"{fragment!r} not in {run.stderr!r}"
    return line


# ---------------------------------------------------------------------------
# Independent numeric reference
# ---------------------------------------------------------------------------

DIGITS = 30
TOLERANCE = mpmath.mpf("1e-9")


def _heaviside(value, h0=None):
    if value > 0:
        return mpmath.mpf(1)
    if value < 0:
        return mpmath.mpf(0)
    return mpmath.mpf("0.5") if h0 is None else h0


_MODULES = [{"Heaviside": _heaviside}, "mpmath"]


def real_value(fn, args):
    """fn(*args) as a finite real mpf, or None (undefined, complex, infinite).
    Written apart from exgen's oracle on purpose: the tests judge it."""
    try:
        value = fn(*args)
    except (ZeroDivisionError, ValueError, OverflowError, TypeError):
        return None
    if isinstance(value, mpmath.mpc):
        if abs(value.imag) > mpmath.mpf("1e-25") * max(1, abs(value.real)):
            return None
        value = value.real
    try:
        value = mpmath.mpf(value)
    except (TypeError, ValueError):
        return None
    return value if mpmath.isfinite(value) else None


# Arbitrary functions f(x), g(x) (the derivation topics) are compared as
# concrete functions: the same concrete function for the same name on both
# sides, so an identity that holds for every f holds for these. They differ
# from the reference checker's choices on purpose.
_T = sp.Dummy("t")
CONCRETE = (
    sp.Lambda(_T, _T**2 + _T + 3),
    sp.Lambda(_T, sp.cos(_T) + _T / 3 + 2),
    sp.Lambda(_T, sp.exp(_T / 4) + 1),
    sp.Lambda(_T, _T**4 / 10 + 2),
)


def concretize(expr):
    """Arbitrary functions f(x), g(x), ... replaced by fixed concrete ones (by name)."""
    expr = sp.sympify(expr)
    undefined = sorted({a.func for a in expr.atoms(AppliedUndef)}, key=lambda f: f.__name__)
    if not undefined:
        return expr
    names = sorted({f.__name__ for f in undefined})
    mapping = {f: CONCRETE[names.index(f.__name__) % len(CONCRETE)] for f in undefined}
    for f, concrete in mapping.items():
        expr = expr.replace(lambda a, f=f: isinstance(a, AppliedUndef) and a.func.__name__ == f.__name__,
                            lambda a, c=concrete: c(*a.args))
    return expr.doit()


def evaluator(expr, symbols):
    expr = concretize(to_elementary(sp.sympify(expr)))
    if isinstance(expr, sp.MatrixBase):
        raise TypeError("scalar expressions only")
    return sp.lambdify(symbols, expr, modules=_MODULES)


def compare(claimed, reference, points):
    """(usable point count, list of mismatches) for two expressions at points."""
    symbols = sorted(set(points[0]) | sp.sympify(claimed).free_symbols | sp.sympify(reference).free_symbols,
                     key=lambda s: s.name)
    missing = [s for s in symbols if s not in points[0]]
    assert not missing, f"no value for {missing} in the sample points"
    f_claimed, f_reference = evaluator(claimed, symbols), evaluator(reference, symbols)
    usable, bad = 0, []
    with mpmath.workdps(DIGITS):
        for point in points:
            args = [mpmath.mpf(point[s]) for s in symbols]
            a, b = real_value(f_claimed, args), real_value(f_reference, args)
            if a is None or b is None:
                continue
            usable += 1
            if abs(a - b) > TOLERANCE * max(1, abs(a), abs(b)):
                bad.append(f"at {point}: {mpmath.nstr(a, 12)} != {mpmath.nstr(b, 12)}")
    return usable, bad


def assert_derivative(expr, wrt, claimed, points, min_usable=3, context=""):
    """`claimed` equals sympy.diff(expr, wrt) at the points (at least `min_usable` of them usable)."""
    reference = sp.diff(to_elementary(sp.sympify(expr)), wrt)
    usable, bad = compare(claimed, reference, points)
    assert not bad, f"{context} d/d{wrt} {sp.sstr(expr)}: claimed {sp.sstr(claimed)}, " \
                    f"sympy.diff {sp.sstr(reference)}; {bad[:3]}"
    assert usable >= min_usable, f"{context} d/d{wrt} {sp.sstr(expr)}: only {usable} usable points"


def assert_same_function(a, b, points, min_usable=3, context=""):
    usable, bad = compare(a, b, points)
    assert not bad, f"{context}: {sp.sstr(a)} != {sp.sstr(b)}; {bad[:3]}"
    assert usable >= min_usable, f"{context}: only {usable} usable points"


def is_real_at(expr, symbols, point) -> bool:
    fn = evaluator(expr, symbols)
    with mpmath.workdps(DIGITS):
        return real_value(fn, [mpmath.mpf(point[s]) for s in symbols]) is not None


# Points with no special values (0, 1, integers) and both signs.
SPREAD = ("-2.37", "-1.61", "-0.83", "-0.29", "0.41", "0.77", "1.29", "1.73", "2.21", "2.69")


def spread_points(symbols, values=SPREAD):
    """Points for each symbol from a fixed spread; several symbols get shifted copies."""
    symbols = list(symbols)
    return [{s: sp.Rational(values[(i + 3 * j) % len(values)]) for j, s in enumerate(symbols)}
            for i in range(len(values))]


def bindings(step):
    """Variables a node's substeps use for expressions of the node's variable
    (the chain rule's u = inner(x); the multivariable chain's x = x(t))."""
    bound = tuple(getattr(step, "bindings", ()) or ())
    if not bound and step.rule == "chain":
        parts = dict(step.parts)
        bound = ((parts["u"], parts["inner"]),)
    return bound


def bind_points(step, points):
    """Each point extended with the values of the node's bound variables."""
    bound = bindings(step)
    if not bound:
        return points
    out = []
    symbols = sorted(points[0], key=lambda s: s.name)
    for point in points:
        extended = dict(point)
        for u, value in bound:
            fn = evaluator(value, symbols)
            with mpmath.workdps(DIGITS):
                v = real_value(fn, [mpmath.mpf(point[s]) for s in symbols])
            if v is None:
                break
            extended[u] = v
        else:
            out.append(extended)
    return out


def assert_tree_independently(step, points, min_usable=3, path="root"):
    """Every node: result == sympy.diff(expr, wrt) numerically, at the points
    (for a chain's outer node: at u = inner(x) for each x)."""
    assert_derivative(step.expr, step.wrt, step.result, points, min_usable,
                      context=f"{path} ({step.rule})")
    sub_points = bind_points(step, points)
    assert sub_points or not step.substeps, f"{path}: no point where the bound variables are defined"
    for i, sub in enumerate(step.substeps):
        assert_tree_independently(sub, sub_points, min(min_usable, len(sub_points)),
                                  path=f"{path}/{i}:{sub.rule}")


# ---------------------------------------------------------------------------
# sheet.json: parsing the contract strings with plain SymPy
# ---------------------------------------------------------------------------

def parse_plain(text: str, names) -> sp.Expr:
    """What any CAS user does: sympy.parse_expr with the names as real symbols."""
    local = {n: sp.Symbol(n, real=True) for n in names}
    local.update({"Matrix": sp.Matrix, "Heaviside": sp.Heaviside, "Max": sp.Max})
    expr = sp.parse_expr(text, local_dict=local)
    if isinstance(expr, sp.Basic):
        # Only arbitrary one-letter functions (f(x), g(x)) may be undefined:
        # everything else must be one of SymPy's own functions.
        undefined = {a.func.__name__ for a in expr.atoms(AppliedUndef)}
        assert all(len(name) == 1 for name in undefined), f"{text!r} uses functions SymPy does not know: {undefined}"
    return expr


def check_targets(check: dict) -> list[tuple[sp.Expr, object, sp.Expr]]:
    """(function, variable, claimed derivative) for each derivative a sheet.json
    `check` asks: one per name in `wrt`, or each entry of a Jacobian (Matrix);
    with `order` n, the variable is a tuple of names (x, x) or, for the
    Hessian's entry (i, j), (wrt_i, wrt_j). `diff_by` differentiates by it."""
    names = check["variables"]
    expr = parse_plain(check["expr"], names)
    wrts = check["wrt"] if isinstance(check["wrt"], list) else [check["wrt"]]
    order = int(check.get("order", 1))
    if order > 1 and len(wrts) > 1:
        hessian = parse_plain(check["answer"], names)
        assert hessian.shape == (len(wrts), len(wrts)), (check["expr"], check["answer"])
        return [(expr, (a, b), hessian[i, j]) for i, a in enumerate(wrts) for j, b in enumerate(wrts)]
    if order > 1:
        return [(expr, tuple(wrts) * order, parse_plain(str(check["answer"]), names))]
    if isinstance(expr, sp.MatrixBase):
        jacobian = parse_plain(check["answer"], names)
        assert jacobian.shape == (len(expr), len(wrts)), (check["expr"], check["answer"])
        return [(component, w, jacobian[i, j]) for i, component in enumerate(expr) for j, w in enumerate(wrts)]
    answers = check["answer"] if isinstance(check["answer"], list) else [check["answer"]]
    assert isinstance(check["wrt"], list) == isinstance(check["answer"], list) and len(wrts) == len(answers), check
    return [(expr, w, parse_plain(str(a), names)) for w, a in zip(wrts, answers)]


def diff_by(function, w):
    """sympy.diff by a variable name, or by each name of a tuple in turn."""
    names = w if isinstance(w, tuple) else (w,)
    return sp.diff(function, *(sp.Symbol(n, real=True) for n in names))


def stated_interval(domain_statement: str) -> tuple[float, float]:
    """The sampling interval for a problem's printed domain ('x > 0', '0 < y < 1', 'all real numbers')."""
    text = domain_statement or ""
    bound = re.search(r"\\right\|\s*<\s*(?:\\frac\{(\d+)\}\{(\d+)\}|(\d+))", text)
    if bound:  # |x| < b: strictly inside
        b = int(bound.group(1)) / int(bound.group(2)) if bound.group(1) else int(bound.group(3))
        return (-0.95 * b, 0.95 * b)
    if re.search(r"0 < .* <\s*1\b", text):
        return (0.03, 0.97)
    if re.search(r">\s*0\b", text):
        return (0.12, 3.2)
    number = r"(-?\s*\\frac\{\d+\}\{\d+\}|-?\s*\d+)"
    above = re.search(r"x > " + number, text)
    if above:  # x > a (and perhaps x != b): sample above a
        a = _latex_number(above.group(1))
        return (a + 0.05, a + 3.2)
    between = re.search(number + r" < x < " + number, text)
    if between:
        a, b = _latex_number(between.group(1)), _latex_number(between.group(2))
        return (a + 0.05 * (b - a), b - 0.05 * (b - a))
    return (-3.2, 3.2)


def _latex_number(text: str) -> float:
    text = text.replace(" ", "")
    fraction = re.match(r"(-?)\\frac\{(\d+)\}\{(\d+)\}", text)
    if fraction:
        return (-1 if fraction.group(1) else 1) * int(fraction.group(2)) / int(fraction.group(3))
    return float(text)


def kinks(expr) -> list:
    """Expressions whose zeros are corners of `expr` (ReLU/Max, Piecewise, Heaviside):
    no derivative exists there, so sample points keep away from them."""
    out = []
    for node in sp.preorder_traversal(to_elementary(sp.sympify(expr))):
        if isinstance(node, (sp.Max, sp.Min)):
            out.extend(a - b for a, b in zip(node.args, node.args[1:]))
        elif isinstance(node, sp.Heaviside):
            out.append(node.args[0])
        elif isinstance(node, sp.Piecewise):
            out.extend(c.lhs - c.rhs for _, c in node.args if isinstance(c, sp.core.relational.Relational))
    return out


def domain_points(domain_statement, symbols, rng: random.Random, n: int, avoid=()):
    """n random points inside the printed domain, away from 0, +-1 and the zeros of `avoid`."""
    low, high = stated_interval(domain_statement)
    symbols = list(symbols)
    avoid = [evaluator(a, symbols) for a in avoid if sp.sympify(a).free_symbols]
    points = []
    while len(points) < n:
        point = {}
        for s in symbols:
            v = round(rng.uniform(low, high), 3)
            while abs(v) < 0.02 or abs(abs(v) - 1) < 0.01:  # no kinks at 0, no log(1) = 0
                v = round(rng.uniform(low, high), 3)
            point[s] = sp.Rational(str(v))
        with mpmath.workdps(DIGITS):
            values = [real_value(f, [mpmath.mpf(point[s]) for s in symbols]) for f in avoid]
        if any(v is not None and abs(v) < 0.02 for v in values):
            continue
        points.append(point)
    return points
