"""A reader of the LaTeX exgen prints, for the tests: one reading only.

A small recursive-descent parser for exactly the subset exgen prints in its
prompts, answers and domains (numbers, symbols such as x, w_{0}, z_{i},
\\hat{y}_{1}; + - \\cdot and implicit multiplication; \\frac, ^{}, \\sqrt,
\\left( \\right), \\left| \\right|, e^{...}; \\ln, \\log_{k}, the trig, inverse
trig and hyperbolic functions, \\sigma, \\operatorname{ReLU|softplus|ELU|SiLU|
LeakyReLU_{a}|LSE}; function powers \\sin^{2} {x}, \\ln^{2} x; arbitrary
functions f(x), f'(x); cases and bmatrix environments; relations for domains).
It builds plain SymPy expressions and shares no code with exgen: it judges
what exgen prints.

The contract it enforces is the one a student reading the sheet relies on
(issue 14, "Notation"): an expression printed so that it can be read two
ways is refused with `Ambiguous`, never guessed:

- a function name followed by a bracket takes the bracket as its argument:
  \\sin{\\left(x^{3} \\right)}, \\ln\\left(x^{2} + 1\\right), \\sigma(z);
- a function name followed by a simple argument (a symbol, or a number times
  a symbol: x, {3 x}, 3 x, \\hat{y}) takes exactly that, and the function
  then ends its term: it may be followed by + - or the end of a group, never
  by another factor, a power or a superscript (\\sin x^{3}, \\ln x \\sin x and
  \\sin {x} y are refused);
- anything else after a bracketless function name (\\sin - 2 x,
  \\sin {x^{3}}, \\ln \\frac{1}{x}) is refused;
- a power directly after a function's bracket is refused
  (\\log_{3}\\left(4 x + 3\\right)^{4}: the power of the log or of its
  argument?); the readable forms are \\left(\\log_{3}\\left(...\\right)\\right)^{4}
  and \\log_{3}^{4}\\left(...\\right);
- a number directly after a number, a symbol or a power (2 3, x 2, x^{2} 3)
  is refused: it reads as one number or as a subscript.

Braces are invisible on the page, so they never make an argument simple:
\\sin {x^{3}} prints as "sin x^3" and is refused like \\sin x^{3}.

`Unsupported` is raised for LaTeX outside the subset (\\sum, \\mathbf, ...):
the caller may skip such a form, and should count how often it does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

import sympy as sp


class ReadError(Exception):
    """The text could not be read."""


class Ambiguous(ReadError):
    """The text can be read two ways (the notation contract is broken).

    `rule`: which part of the contract ("followed": a function without
    brackets followed by more of its term; "power-after-argument",
    "power-after-bracket", "argument": a bracketless argument that is not
    simple, "braces", "number-after", "log-base", "inverse-power");
    `function`: the function name at fault (\\log, \\arccos, g), if any."""

    def __init__(self, message: str, rule: str, function: str = ""):
        super().__init__(message)
        self.rule = rule
        self.function = function


class Unsupported(ReadError):
    """The text uses LaTeX outside the subset this reader knows."""


# ---------------------------------------------------------------------------
# Tokens
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Token:
    kind: str   # NUM, LETTER, CMD, OP, LPAR, RPAR, LBAR, RBAR, LBRACE, RBRACE, ROWSEP, TEXT, BEGIN, END, OPNAME, QUAD, EOF
    text: str
    pos: int

    def __repr__(self):
        return f"{self.kind}:{self.text!r}@{self.pos}"


_SKIP = {r"\displaystyle", r"\,", r"\:", r"\;", r"\!", r"\ "}
_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<left>\\left\s*(?:\(|\)|\||\[|\]|\.|\\\{|\\\}))
  | (?P<right>\\right\s*(?:\(|\)|\||\[|\]|\.|\\\{|\\\}))
  | (?P<rowsep>\\\\(?:\s*\[[^\]]*\])?)
  | (?P<text>\\text\s*\{[^{}]*\})
  | (?P<begin>\\begin\s*\{[a-zA-Z*]+\})
  | (?P<end>\\end\s*\{[a-zA-Z*]+\})
  | (?P<opname>\\operatorname\s*\{[a-zA-Z]+\})
  | (?P<cmd>\\[a-zA-Z]+|\\[,:;!\ ])
  | (?P<num>\d+(?:\.\d+)?)
  | (?P<letter>[a-zA-Z])
  | (?P<char>[-+=<>,&^_'{}()|\[\]/*.!])
""", re.VERBOSE)


def tokenize(latex: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(latex):
        m = _TOKEN.match(latex, pos)
        if m is None:
            raise Unsupported(f"cannot read {latex[pos:pos + 20]!r} at {pos} in {latex!r}")
        kind, text = m.lastgroup, m.group()
        pos = m.end()
        if kind == "space":
            continue
        if kind in ("left", "right"):
            delim = re.sub(r"^\\(left|right)\s*", "", text)
            if delim in ("(", ")"):
                kind = "LPAR" if kind == "left" else "RPAR"
            elif delim == "|":
                kind = "LBAR" if kind == "left" else "RBAR"
            else:
                raise Unsupported(f"delimiter {text!r} in {latex!r}")
            tokens.append(Token(kind, text, m.start()))
        elif kind == "rowsep":
            tokens.append(Token("ROWSEP", text, m.start()))
        elif kind == "text":
            tokens.append(Token("TEXT", re.sub(r"^\\text\s*\{|\}$", "", text).strip(), m.start()))
        elif kind in ("begin", "end"):
            tokens.append(Token(kind.upper(), re.sub(r"^\\(begin|end)\s*\{|\}$", "", text), m.start()))
        elif kind == "opname":
            tokens.append(Token("OPNAME", re.sub(r"^\\operatorname\s*\{|\}$", "", text), m.start()))
        elif kind == "cmd":
            if text in _SKIP:
                continue
            if text in (r"\quad", r"\qquad"):
                tokens.append(Token("QUAD", text, m.start()))
            else:
                tokens.append(Token("CMD", text, m.start()))
        elif kind == "num":
            tokens.append(Token("NUM", text, m.start()))
        elif kind == "letter":
            tokens.append(Token("LETTER", text, m.start()))
        else:
            kind = {"(": "LPAR", ")": "RPAR", "{": "LBRACE", "}": "RBRACE"}.get(text, "OP")
            tokens.append(Token(kind, text, m.start()))
    tokens.append(Token("EOF", "", len(latex)))
    return tokens


# ---------------------------------------------------------------------------
# What the functions mean
# ---------------------------------------------------------------------------

def sigmoid(u):
    return 1 / (1 + sp.exp(-u))


def _elu(u):
    return sp.Piecewise((u, u > 0), (sp.exp(u) - 1, True))


def _leaky(a):
    return lambda u: sp.Piecewise((u, u > 0), (a * u, True))


# One-argument functions by their LaTeX command.
FUNCTIONS: dict[str, Callable] = {
    r"\sin": sp.sin, r"\cos": sp.cos, r"\tan": sp.tan, r"\sec": sp.sec, r"\csc": sp.csc, r"\cot": sp.cot,
    r"\sinh": sp.sinh, r"\cosh": sp.cosh, r"\tanh": sp.tanh,
    r"\arcsin": sp.asin, r"\arccos": sp.acos, r"\arctan": sp.atan,
    r"\ln": sp.log, r"\exp": sp.exp,
    r"\sigma": sigmoid,
}
OPERATORS: dict[str, Callable] = {
    "ReLU": lambda u: sp.Max(0, u),
    "softplus": lambda u: sp.log(1 + sp.exp(u)),
    "ELU": _elu,
    "SiLU": lambda u: u * sigmoid(u),
    "LSE": lambda *zs: sp.log(sp.Add(*(sp.exp(z) for z in zs))),
}
# Letters read as arbitrary functions when a bracket or a prime follows: f(x), g'(x).
FUNCTION_LETTERS = ("f", "g", "h")
RELATIONS = {"<": sp.Lt, ">": sp.Gt, r"\leq": sp.Le, r"\le": sp.Le, r"\geq": sp.Ge, r"\ge": sp.Ge,
             r"\neq": sp.Ne, r"\ne": sp.Ne, r"\lt": sp.Lt, r"\gt": sp.Gt}
# What may follow a function printed without brackets (it ends its term there).
_TERM_ENDS = {"EOF", "RBRACE", "RPAR", "RBAR", "ROWSEP", "QUAD", "END"}
_TERM_END_OPS = {"+", "-", ",", "&", "=", "<", ">"}


def default_symbol(name: str) -> sp.Symbol:
    return sp.Symbol(name, real=True)


# ---------------------------------------------------------------------------
# The parser
# ---------------------------------------------------------------------------

class _Read:
    """One reading of one LaTeX string."""

    def __init__(self, latex: str, symbol: Callable[[str], sp.Expr], sigma: Callable | None):
        self.latex = latex
        self.tokens = tokenize(latex)
        self.i = 0
        self.symbol = symbol
        self.last_function = ""
        self.functions = dict(FUNCTIONS)
        if sigma is not None:
            self.functions[r"\sigma"] = sigma

    # -- tokens ------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def peek(self, k: int = 1) -> Token:
        return self.tokens[min(self.i + k, len(self.tokens) - 1)]

    def take(self) -> Token:
        t = self.tokens[self.i]
        self.i += 1
        return t

    def is_(self, kind: str, text: str | None = None, tok: Token | None = None) -> bool:
        t = tok or self.tok
        return t.kind == kind and (text is None or t.text == text)

    def expect(self, kind: str, text: str | None = None) -> Token:
        if not self.is_(kind, text):
            self.fail(f"expected {text or kind}")
        return self.take()

    def where(self) -> str:
        p = self.tok.pos
        return f"at {p} ({self.latex[max(0, p - 25):p]!r} | {self.latex[p:p + 25]!r}) in {self.latex!r}"

    def fail(self, why: str):
        raise ReadError(f"{why} {self.where()}")

    def ambiguous(self, rule: str, why: str, function: str = ""):
        raise Ambiguous(f"{why} {self.where()}", rule, function)

    def unsupported(self, why: str):
        raise Unsupported(f"{why} {self.where()}")

    # -- grammar -----------------------------------------------------------
    def expr(self) -> sp.Expr:
        """['+'|'-'] term (('+'|'-') term)*"""
        sign = 1
        if self.is_("OP", "-") or self.is_("OP", "+"):
            sign = -1 if self.take().text == "-" else 1
        total = sign * self.term()
        while self.is_("OP", "+") or self.is_("OP", "-"):
            op = self.take().text
            right = self.term()
            total = total + right if op == "+" else total - right
        return total

    def term(self) -> sp.Expr:
        """factor ([\\cdot] factor)*: implicit multiplication."""
        value, kind = self.factor()
        product = value
        while True:
            if kind == "open" and not self.ends_term():
                self.ambiguous("followed", "a function printed without brackets is followed by more of its term",
                               self.last_function)
            if self.is_("CMD", r"\cdot") or self.is_("CMD", r"\times"):
                self.take()
                value, kind = self.factor()
            elif self.starts_factor():
                if self.is_("NUM") and kind not in ("bracket", "closed", "applied"):
                    self.ambiguous("number-after", "a number follows a number, a symbol or a power")
                value, kind = self.factor()
            else:
                break
            product = product * value
        return product

    def ends_term(self) -> bool:
        t = self.tok
        return t.kind in _TERM_ENDS or (t.kind == "OP" and t.text in _TERM_END_OPS) or (
            t.kind == "CMD" and t.text in RELATIONS)

    def starts_factor(self) -> bool:
        t = self.tok
        if t.kind in ("NUM", "LETTER", "LPAR", "LBAR", "LBRACE", "BEGIN", "OPNAME"):
            return True
        return t.kind == "CMD" and t.text not in RELATIONS and t.text not in (r"\cdot", r"\times", r"\wedge", r"\land")

    def factor(self) -> tuple[sp.Expr, str]:
        """primary [^ superscript]. Kinds: "open" (a function without brackets),
        "applied" (a function with its bracket: no power may follow), "bracket"
        (a bracketed group), "closed" (anything else that ends with a delimiter
        such as \\frac{}{}, \\sqrt{}), "atom" (a number, a symbol, a power)."""
        name = self.tok.text
        value, kind = self.primary()
        if kind in ("open", "applied"):
            self.last_function = name
        if self.is_("OP", "^"):
            if kind == "open":
                self.ambiguous("power-after-argument", "a power after a function's bracketless argument", name)
            if kind == "applied":
                self.ambiguous("power-after-bracket",
                               "a power after a function's bracket: the power of the function or of its argument?", name)
            self.take()
            value, kind = sp.Pow(value, self.superscript()), "atom"
            if self.is_("OP", "^"):
                self.fail("double superscript")
        if self.is_("OP", "'"):
            self.fail("a prime on something other than an arbitrary function")
        return value, kind

    def superscript(self) -> sp.Expr:
        if self.is_("LBRACE"):
            return self.group()
        t = self.take()
        if t.kind == "NUM" and len(t.text) == 1:
            return sp.Integer(t.text)
        if t.kind == "LETTER":
            return self.letter_value(t.text, "")
        self.fail("superscript")

    def group(self) -> sp.Expr:
        self.expect("LBRACE")
        value = self.expr()
        self.expect("RBRACE")
        return value

    def raw_group(self) -> str:
        """The text of a {...} group without nested groups (a subscript, a base)."""
        if not self.is_("LBRACE"):
            t = self.take()
            if t.kind not in ("NUM", "LETTER"):
                self.fail("subscript")
            return t.text
        self.take()
        parts = []
        while not self.is_("RBRACE"):
            t = self.take()
            if t.kind not in ("NUM", "LETTER"):
                self.unsupported("a subscript other than letters and digits")
            parts.append(t.text)
        self.take()
        return "".join(parts)

    def subscript(self) -> str:
        if self.is_("OP", "_"):
            self.take()
            return self.raw_group()
        return ""

    def letter_value(self, letter: str, sub: str) -> sp.Expr:
        if letter == "e" and not sub:
            return sp.E
        # SymPy's own convention: the symbol w0 prints as w_{0}, z_i as z_{i}.
        name = letter + (sub if sub.isdigit() else "_" + sub if sub else "")
        return self.symbol(name)

    def primary(self) -> tuple[sp.Expr, str]:
        t = self.tok
        if t.kind == "NUM":
            self.take()
            return sp.Rational(t.text), "atom"
        if t.kind == "LETTER":
            if t.text in FUNCTION_LETTERS and (self.is_("LPAR", tok=self.peek()) or self.is_("OP", "'", self.peek())):
                return self.arbitrary_function()
            self.take()
            return self.letter_value(t.text, self.subscript()), "atom"
        if t.kind == "LPAR":
            self.take()
            value = self.expr()
            self.expect("RPAR")
            return value, "bracket"
        if t.kind == "LBAR":
            self.take()
            value = self.expr()
            self.expect("RBAR")
            return sp.Abs(value), "bracket"
        if t.kind == "LBRACE":  # braces do not print: as the inside reads
            return self.group(), "atom"
        if t.kind == "BEGIN":
            return self.environment(), "closed"
        if t.kind == "OPNAME":
            return self.function()
        if t.kind == "CMD":
            if t.text == r"\frac":
                self.take()
                numerator = self.group()
                denominator = self.group()
                return numerator / denominator, "closed"
            if t.text == r"\sqrt":
                self.take()
                index = 2
                if self.is_("OP", "["):
                    self.take()
                    index = sp.Integer(self.expect("NUM").text)
                    self.expect("OP", "]")
                return sp.root(self.group(), index) if index != 2 else sp.sqrt(self.group()), "closed"
            if t.text == r"\hat":
                return self.hat(), "atom"
            if t.text == r"\pi":
                self.take()
                return sp.pi, "atom"
            if t.text in self.functions or t.text == r"\log":
                return self.function()
            self.unsupported(f"command {t.text}")
        self.fail(f"unexpected {t.text!r}")

    def hat(self) -> sp.Expr:
        self.expect("CMD", r"\hat")
        base = self.raw_group()
        sub = self.subscript()
        return self.symbol(base + "hat" + (sub if sub.isdigit() else "_" + sub if sub else ""))

    def simple_symbol(self) -> sp.Expr | None:
        """A symbol (x, w_{0}, \\hat{y}_{1}, e) at the cursor, or None."""
        if self.is_("LETTER") and not (self.tok.text in FUNCTION_LETTERS and self.is_("LPAR", tok=self.peek())):
            letter = self.take().text
            return self.letter_value(letter, self.subscript())
        if self.is_("CMD", r"\hat"):
            return self.hat()
        return None

    def simple_argument(self, function: str = "") -> sp.Expr:
        """x, 3 x, 0.5 x, \\frac{5 x}{2}, \\hat{y}: a number times a symbol, or a symbol."""
        if self.is_("CMD", r"\frac"):
            # k x with k = 5/2 prints as \frac{5 x}{2}: the fraction bar holds it together.
            self.take()
            self.expect("LBRACE")
            numerator = self.simple_argument(function)
            if not (self.is_("RBRACE") and self.is_("LBRACE", tok=self.peek()) and self.is_("NUM", tok=self.peek(2))
                    and self.is_("RBRACE", tok=self.peek(3))):
                self.ambiguous("argument", "a bracketless function argument that is a fraction other than k x / n",
                               function)
            self.take(), self.take()
            denominator = sp.Integer(self.take().text)
            self.take()
            return numerator / denominator
        if self.is_("NUM"):
            number = sp.Rational(self.take().text)
            symbol = self.simple_symbol()
            if symbol is None:
                self.ambiguous("argument", "a bracketless function argument that is not k times a symbol", function)
            return number * symbol
        symbol = self.simple_symbol()
        if symbol is None:
            self.ambiguous("argument", "a bracketless function argument that is neither a symbol nor k times a symbol",
                           function)
        return symbol

    def bracket_arguments(self) -> list[sp.Expr]:
        self.expect("LPAR")
        args = [self.expr()]
        while self.is_("OP", ","):
            self.take()
            args.append(self.expr())
        self.expect("RPAR")
        return args

    def function(self) -> tuple[sp.Expr, str]:
        """name [_{k}] [^{n}] argument."""
        t = self.take()
        apply: Callable
        if t.kind == "OPNAME":
            if t.text == "LeakyReLU":
                if not self.is_("OP", "_"):
                    self.fail("LeakyReLU without its slope")
                self.take()
                apply = _leaky(self.group() if self.is_("LBRACE") else sp.Rational(self.take().text))
            elif t.text in OPERATORS:
                apply = OPERATORS[t.text]
            else:
                self.unsupported(f"operator {t.text}")
        elif t.text == r"\log":
            power = None
            if self.is_("OP", "^"):  # \log^{n}_{k}
                self.take()
                power = self.superscript()
            if not self.is_("OP", "_"):
                self.ambiguous("log-base", r"\log without a base (ln or log_10?)", t.text)
            self.take()
            base = self.group() if self.is_("LBRACE") else sp.Rational(self.take().text)
            apply = lambda u, base=base: sp.log(u) / sp.log(base)  # noqa: E731
            if power is not None:
                return self.argument(apply, t, power)
        else:
            apply = self.functions[t.text]
        power = None
        if self.is_("OP", "^"):
            self.take()
            power = self.superscript()
            if power.is_number and power.is_negative:
                self.ambiguous("inverse-power", f"{t.text}^{{{power}}}: an inverse function or a reciprocal?", t.text)
        return self.argument(apply, t, power)

    def argument(self, apply: Callable, name: Token, power) -> tuple[sp.Expr, str]:
        def powered(value):
            return value if power is None else sp.Pow(value, power)

        if self.is_("LPAR"):
            return powered(apply(*self.bracket_arguments())), "applied"
        if self.is_("LBAR"):
            self.take()
            inner = self.expr()
            self.expect("RBAR")
            return powered(apply(sp.Abs(inner))), "applied"
        if self.is_("LBRACE"):
            # SymPy's forms: \sin{\left(u \right)} (a bracket in a group) and \sin {3 x} (a simple argument).
            if self.is_("LPAR", tok=self.peek()):
                start = self.i
                self.take()
                args = self.bracket_arguments()
                if self.is_("RBRACE"):
                    self.take()
                    return powered(apply(*args)), "applied"
                self.i = start  # {\left(x\right) y}: not one bracket
            self.take()
            arg = self.simple_argument(name.text)
            if not self.is_("RBRACE"):
                self.ambiguous("braces", f"{name.text} {{...}}: braces do not print, and the argument is not simple",
                               name.text)
            self.take()
            return powered(apply(arg)), "open"
        return powered(apply(self.simple_argument(name.text))), "open"

    def arbitrary_function(self) -> tuple[sp.Expr, str]:
        letter = self.take().text
        primes = 0
        while self.is_("OP", "'"):
            self.take()
            primes += 1
        f = sp.Function(letter)
        args = self.bracket_arguments()
        if not primes:
            return f(*args), "applied"
        if len(args) != 1:
            self.fail("a prime on a function of several arguments")
        dummy = sp.Dummy("u")
        derivative = sp.Derivative(f(dummy), (dummy, primes))
        (arg,) = args
        return (derivative.subs(dummy, arg) if arg.is_Symbol else sp.Subs(derivative, dummy, arg)), "applied"

    # -- environments and relations ------------------------------------------
    def environment(self) -> sp.Expr:
        name = self.expect("BEGIN").text
        if name == "cases":
            pieces = []
            while True:
                value = self.expr()
                self.expect("OP", "&")
                pieces.append((value, self.case_condition()))
                if self.is_("ROWSEP"):
                    self.take()
                    continue
                break
            self.expect("END", "cases")
            return sp.Piecewise(*pieces)
        if name in ("bmatrix", "pmatrix", "matrix"):
            rows, row = [], []
            while True:
                row.append(self.expr())
                if self.is_("OP", "&"):
                    self.take()
                    continue
                rows.append(row)
                row = []
                if self.is_("ROWSEP"):
                    self.take()
                    continue
                break
            self.expect("END", name)
            if len({len(r) for r in rows}) != 1:
                self.fail("a matrix with rows of different lengths")
            return sp.ImmutableMatrix(rows)
        self.unsupported(f"environment {name}")

    def case_condition(self):
        if self.is_("TEXT"):
            word = self.take().text
            if word == "otherwise":
                return sp.true
            if word not in ("for", "if"):
                self.unsupported(f"\\text{{{word}}} in cases")
        return self.condition()

    def condition(self):
        """relation chain (, relation chain)*: 0 < y < 1, x \\neq -2, x \\neq 0."""
        parts = [self.relation_chain()]
        while self.is_("OP", ",") or self.is_("CMD", r"\wedge") or self.is_("CMD", r"\land"):
            self.take()
            parts.append(self.relation_chain())
        return sp.And(*parts)

    def relation_chain(self):
        left = self.expr()
        relations = []
        while self.relation_ahead():
            op = self.take().text
            right = self.expr()
            relations.append(RELATIONS[op](left, right))
            left = right
        if not relations:
            self.fail("expected a relation")
        return sp.And(*relations)

    def relation_ahead(self) -> bool:
        t = self.tok
        return (t.kind == "OP" and t.text in ("<", ">")) or (t.kind == "CMD" and t.text in RELATIONS)

    def done(self):
        if not self.is_("EOF"):
            self.fail("unexpected text after the expression")


def read(latex: str, symbol: Callable[[str], sp.Expr] = default_symbol, sigma: Callable | None = None):
    """The SymPy expression (or matrix) `latex` denotes; `Ambiguous` if it can
    be read two ways. Symbols are real (`symbol(name)` makes them); `sigma`
    replaces the logistic sigmoid as the meaning of \\sigma (the softmax)."""
    reader = _Read(latex, symbol, sigma)
    value = reader.expr()
    reader.done()
    return value


def read_condition(latex: str, symbol: Callable[[str], sp.Expr] = default_symbol):
    """A domain as exgen states it (x > 0, x \\neq -2, x \\neq 0, 0 < \\hat{y} < 1)."""
    reader = _Read(latex, symbol, None)
    value = reader.condition()
    reader.done()
    return value


def split_top(latex: str, separator: str) -> list[str]:
    """`latex` split at `separator` (",", "=", "\\quad") outside braces and brackets."""
    parts, depth, start, i = [], 0, 0, 0
    command = re.compile(r"\\(?:left|right)\s*(?:\\[{}]|.)|\\[a-zA-Z]+|\\.")
    while i < len(latex):
        if depth == 0 and latex.startswith(separator, i) and not (
                separator[-1].isalpha() and latex[i + len(separator):i + len(separator) + 1].isalpha()):
            parts.append(latex[start:i])
            i += len(separator)
            start = i
            continue
        m = command.match(latex, i)
        if m is not None:
            if m.group().startswith(r"\left"):
                depth += 1
            elif m.group().startswith(r"\right"):
                depth -= 1
            i = m.end()
            continue
        if latex[i] in "{(":
            depth += 1
        elif latex[i] in "})":
            depth -= 1
        i += 1
    parts.append(latex[start:])
    return parts
