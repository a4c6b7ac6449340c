"""Reading an expression typed by a user (`exgen solve`), safely.

`sympy.parse_expr` evaluates Python, so input is first checked token by
token: only numbers, operators, brackets, commas, the known function names
and variable names may appear. Number sizes are bounded before anything is
evaluated, so `2**10**10` is refused instead of computed.
"""

import io
import math
import re
import tokenize

import sympy as sp
from sympy.parsing.sympy_parser import convert_xor, parse_expr, standard_transformations

from .errors import ExgenError
from .registry import RULES

MAX_LENGTH = 2000
MAX_DIGITS = 12
MAX_MAGNITUDE_DIGITS = 300

CONSTANTS = {"e": sp.E, "E": sp.E, "pi": sp.pi}
VARIABLE = re.compile(r"^[A-Za-z](_?[0-9]{1,2})?$")


def _check_tokens(text: str) -> list[str]:
    # Every name a function rule says it is read by (sin, ln, log, sigmoid, relu, ...).
    FUNCTIONS = RULES.reader_names()
    names = []
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        raise ExgenError(f"cannot read {text!r}: unbalanced brackets or an unfinished expression") from None
    for token, following in zip(tokens, tokens[1:] + tokens[-1:]):
        if token.type == tokenize.NAME:
            if token.string in FUNCTIONS or token.string in CONSTANTS:
                continue
            if following.string == "(" or not VARIABLE.match(token.string):
                kind = "function" if following.string == "(" else "name"
                raise ExgenError(f"unknown {kind} {token.string!r} in {text!r}; functions exgen knows: "
                                 + ", ".join(sorted(FUNCTIONS)) + "; variables are single letters such as x, y, z1")
            names.append(token.string)
        elif token.type == tokenize.NUMBER:
            digits = re.sub(r"[^0-9]", "", token.string)
            if len(digits) > MAX_DIGITS or "j" in token.string.lower():
                raise ExgenError(f"the number {token.string} is too large or not real; use at most {MAX_DIGITS} digits")
        elif token.type == tokenize.OP:
            if token.string not in ("+", "-", "*", "/", "**", "^", "(", ")", ","):
                raise ExgenError(f"{token.string!r} is not allowed in an expression; use + - * / ^ and brackets")
        elif token.type in (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER):
            continue
        else:
            raise ExgenError(f"cannot read {token.string!r} in {text!r}")
    return names


def _magnitude_digits(expr: sp.Expr) -> float:
    """An upper bound on the decimal digits of any number `expr` would evaluate to."""
    if expr.is_Number:
        return math.log10(abs(float(expr)) + 1) if expr.is_finite else 0.0
    if expr.is_Pow:
        base = _magnitude_digits(expr.base)
        exponent = _magnitude_digits(expr.exp)
        if exponent > 6:
            return math.inf if base > 0 or not expr.base.is_Number else 0.0
        return base * 10 ** exponent if expr.base.is_Number else base
    if not expr.args:
        return 0.0
    return sum(_magnitude_digits(a) for a in expr.args)


def parse_user_expression(text: str) -> tuple[sp.Expr, tuple[sp.Symbol, ...]]:
    """The expression and its variables (real symbols, sorted by name)."""
    text = text.strip()
    if not text:
        raise ExgenError("the expression is empty; for example: exgen solve \"x**2*sin(3*x)\"")
    if len(text) > MAX_LENGTH:
        raise ExgenError(f"the expression is longer than {MAX_LENGTH} characters")
    names = _check_tokens(text)
    local = {**RULES.reader_names(), **CONSTANTS}
    local.update({n: sp.Symbol(n, real=True) for n in names})
    transformations = standard_transformations + (convert_xor,)
    try:
        unevaluated = parse_expr(text, local_dict=local, transformations=transformations, evaluate=False)
        if _magnitude_digits(unevaluated) > MAX_MAGNITUDE_DIGITS:
            raise ExgenError(f"a number in {text!r} is too large to work with")
        expr = parse_expr(text, local_dict=local, transformations=transformations)
    except ExgenError:
        raise
    except RecursionError:
        raise ExgenError("the expression is nested too deeply to read") from None
    except (SyntaxError, tokenize.TokenError):
        raise ExgenError(f"cannot read {text!r}: not a complete expression (check brackets and operators; "
                         "write 3*x, not 3x or sin x)") from None
    except TypeError:
        raise ExgenError(f"cannot read {text!r}: a function has the wrong number of arguments "
                         "(log(u) or log(u, k); sin(u); softmax(i, z1, ..., zK))") from None
    except (ValueError, AttributeError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ExgenError(f"cannot read {text!r}: {detail}") from None
    if not isinstance(expr, sp.Expr):
        raise ExgenError(f"{text!r} is not an expression")
    if expr.has(sp.zoo, sp.oo, -sp.oo, sp.nan):
        raise ExgenError(f"{text!r} is undefined or infinite (it divides by zero or takes log of 0)")
    if expr.has(sp.I):
        raise ExgenError(f"{text!r} is not real (it takes a root or logarithm of a negative number)")
    # Decimals are read as the exact fractions a user typed (0.5 is 1/2).
    expr = expr.xreplace({f: sp.Rational(str(f)) for f in expr.atoms(sp.Float)})
    variables = tuple(sorted(expr.free_symbols, key=lambda s: s.name))
    return expr, variables
