"""Reading an expression typed by a user (`exgen solve`), safely, the way a
calculus student means it.

Nothing typed is ever evaluated as Python: a small tokenizer accepts only
numbers, names, + - * / ^ ** brackets and commas, and a recursive-descent
reader builds the SymPy tree itself. Number sizes are bounded before SymPy
computes a power, so `2**10**10` is refused instead of computed, and nesting
is bounded before Python's recursion limit is.

The readings (the README's solve section and `exgen solve --help` say the
same) follow SymPy's `implicit_multiplication_application` and `convert_xor`
transformations where those agree with a textbook, and differ, or refuse with
one line saying how to write it, where they would misread one:

- `^` is a power; `3x^2y` is 3*x^2*y; `2(x + 1)`, `(x + 1)(x - 1)`, `x(x + 1)`,
  `sin(x)cos(x)` are products.
- A function without brackets takes the one factor after it, with its
  coefficient and its power: `sin 2x` = sin(2x), `sin x^2` = sin(x^2),
  `sin xy` = sin(x*y), `ln x` = ln(x); its argument ends at the next function
  (named or f(...)), so `2sin x cos x` = 2 sin(x) cos(x) (SymPy: 2 sin(x
  cos(x))) and `x sin x` = x sin(x). What could belong to the argument or not
  is refused: `ln x/2`, `sin x*y`, `sin x y`, `sin x (x + 1)`, `sin 2sin x`.
- `sin^2 x` = sin(x)^2 (a positive whole power only; `sin^-1 x` is refused as
  it may mean arcsin), `sin(x)^2` too.
- `e` and `E` are Euler's number and `pi` is pi: `e^x` = exp(x). A power of e
  or of a number whose exponent is a number is not continued by a factor
  (but by a function after a space: `e^2 sin x`): `e^2x`, `e^2sin x` are
  refused (e^(2x) or e^2*x?); `e^x sin x`, `e^(2x) y` are products.
- After `/` the denominator is one factor: `x/2y` and `1/2x` are refused,
  `2x/3` is (2x)/3, `x/2*y` is (x/2)*y as in Python.
- Variables are a letter with an optional hat and an optional index: x, z1,
  z_1, w0, w_k, yhat, y_hat, yhat_1. `y_hat` and `yhat` are the same variable
  (printed \\hat{y}), as are `z_1` and `z1` (z_{1}); w_k prints as w_{k}.
  Other words of two or three letters are products of letters as in a
  textbook (`xy` = x*y); longer words must be names or functions.
- f, g, h, p, q, F, G, H followed by a bracket are arbitrary functions of one
  argument (`f(g(x))`, `3f(x)`); any other letter followed by a bracket
  multiplies (`a(x + 1)`, `yhat(1 - yhat)`). A letter cannot be a function
  and a variable in one expression (`p(1 - p)` is refused: write p*(1 - p)).
"""

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

import sympy as sp

from .errors import ExgenError
from .registry import RULES

MAX_LENGTH = 2000
MAX_DIGITS = 12
MAX_MAGNITUDE_DIGITS = 300
# Brackets, exponents and function applications inside one another. SymPy's
# own functions recurse on the tree too, so this stays well below Python's
# recursion limit (1000 frames).
MAX_NESTING = 60

class _Functions(Mapping):
    """Name -> constructor of every function the registry's rules are read by
    (sin, ln, log, sigmoid, ...): the one place a name is made a function
    (`log_2 x`, `sin^2 x` are notations of these), looked up when read, so a
    rule registered later (a plugin's, a test's) is read too."""

    def __getitem__(self, name):
        return RULES.reader_names()[name]

    def __iter__(self):
        return iter(RULES.reader_names())

    def __len__(self):
        return len(RULES.reader_names())


FUNCTIONS = _Functions()
CONSTANTS = {"e": sp.E, "E": sp.E, "pi": sp.pi}
# Letters that name an arbitrary function when a bracket follows: the
# cheat-sheet's f, g, p, the usual h, q, and capitals. u, v, w, s, r stay
# variables (the chain rule names its inner variables with them).
FUNCTION_LETTERS = frozenset("fghpqFGH")

# A variable: a letter, an optional hat, an optional index (one or two digits,
# or one letter after "_"). Canonical form: stem + "hat" + digits or "_k".
_NAME = re.compile(r"(?P<stem>[A-Za-z])(?:_?(?P<hat>hat))?(?:_?(?P<digits>[0-9]{1,2})|_(?P<letter>[A-Za-z]))?")
_LOG_BASE = re.compile(r"log_(?P<base>[0-9]{1,3})")
_TOKEN = re.compile(r"\s*(?:(?P<num>[0-9]+\.?[0-9]*|\.[0-9]+)|(?P<word>[A-Za-z_][A-Za-z0-9_]*)"
                    r"|(?P<op>\*\*|[-+*/^(),]))")
_SCIENTIFIC = re.compile(r"[eE][+-]?[0-9]")


def canonical_name(text: str) -> str | None:
    """The variable a typed name means (`y_hat` -> yhat, `z_1` -> z1), or None
    if it is not a variable name."""
    match = _NAME.fullmatch(text)
    if match is None:
        return None
    name = match["stem"] + ("hat" if match["hat"] else "")
    if match["digits"]:
        name += match["digits"]
    elif match["letter"]:
        name += "_" + match["letter"]
    return name


def _splits_into_letters(word: str) -> bool:
    """`xy` is x*y as in a textbook. Only short words split: a longer one is
    far more likely a name exgen does not know (`theta`, `tan`) than a product,
    and a word holding e, pi or a function name (`ex`, `pix`, `sinx`) is
    refused rather than read as letters."""
    return (2 <= len(word) <= 3 and word.isalpha() and word.isascii() and not set(word) & {"e", "E"}
            and not any(name in word for name in (*FUNCTIONS, *CONSTANTS)))


@dataclass(frozen=True)
class _Token:
    kind: str  # "num", "word" or "op"
    text: str
    start: int
    end: int
    spaced: bool  # whitespace before it


def _quote(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[:limit - 3] + "...")


def _tokenize(text: str) -> list[_Token]:
    tokens = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            rest = text[position:].lstrip()
            if not rest:
                break
            raise ExgenError(f"cannot read {_quote(rest[0])} in {_quote(text)}: use numbers, variable and "
                             "function names, + - * / ^ ( ) and commas")
        kind = match.lastgroup
        token = _Token(kind, match[kind], match.start(kind), match.end(), match.start(kind) > position)
        if kind == "op" and token.text == "**":
            token = _Token("op", "^", token.start, token.end, token.spaced)
        if kind == "num":
            if _SCIENTIFIC.match(text, token.end):
                number = re.match(r"[eE][+-]?[0-9]*", text[token.end:])[0]
                raise ExgenError(f"{_quote(token.text + number)} in {_quote(text)}: exgen does not read "
                                 "scientific notation; write the decimal in full (0.001), or e with a * "
                                 "for Euler's number (2*e - 3)")
            if len(re.sub(r"[^0-9]", "", token.text)) > MAX_DIGITS:
                raise ExgenError(f"the number {_quote(token.text)} is too long; use at most {MAX_DIGITS} digits")
        tokens.append(token)
        position = match.end()
    return tokens


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


@dataclass(frozen=True)
class _Factor:
    """One factor of an implicit product, and what may follow it."""

    expr: sp.Expr
    start: int  # token indices of its text
    end: int
    # The kind of exponent ("number", "variable", "group", "function") when
    # this is a power of e, pi or a number: decides whether a factor may
    # follow it (`e^x y` yes, `e^2x` no).
    exponent_of_constant: str | None = None
    letters: bool = False  # a word read as a product of letters (xy)


class _Reader:
    def __init__(self, text: str):
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0
        self.nesting = 0
        self.as_function: set[str] = set()
        self.as_variable: set[str] = set()

    # -- tokens ------------------------------------------------------------

    def peek(self, ahead: int = 0) -> _Token | None:
        j = self.i + ahead
        return self.tokens[j] if j < len(self.tokens) else None

    def at(self, *ops: str, ahead: int = 0) -> bool:
        token = self.peek(ahead)
        return token is not None and token.kind == "op" and token.text in ops

    def take(self) -> _Token:
        token = self.peek()
        if token is None:
            last = self.tokens[-1].text if self.tokens else ""
            raise ExgenError(f"cannot read {_quote(self.text)}: it ends after {_quote(last)}, where a number, "
                             "a name or a bracket should follow")
        self.i += 1
        return token

    def expect_close(self) -> None:
        token = self.peek()
        if token is None:
            raise ExgenError(f"cannot read {_quote(self.text)}: a '(' is not closed")
        if not self.at(")"):
            raise self.unexpected(token, "')'")
        self.take()
        self.nesting -= 1

    def source(self, start: int, end: int) -> str:
        """The typed text of tokens start..end-1."""
        end = min(end, len(self.tokens))
        if start >= end:
            return ""
        return self.text[self.tokens[start].start:self.tokens[end - 1].end]

    def operand_end(self, start: int) -> int:
        """The end of the operand that starts at token `start`: a bracket group
        whole, a function with its argument, else one token (for quoting it in
        a message)."""
        tokens = self.tokens
        if start < len(tokens) and self.is_function_word(tokens[start]):
            start += 3 if start + 1 < len(tokens) and tokens[start + 1].text == "^" else 1
            while start < len(tokens) and tokens[start].text in ("+", "-"):
                start += 1
        elif start + 1 < len(tokens) and tokens[start].text in FUNCTION_LETTERS and tokens[start + 1].text == "(":
            start += 1  # f(x) whole
        if start >= len(tokens) or tokens[start].text != "(":
            return start + 1
        depth = 0
        for j in range(start, len(self.tokens)):
            if self.tokens[j].kind == "op":
                depth += {"(": 1, ")": -1}.get(self.tokens[j].text, 0)
            if depth == 0:
                return j + 1
        return len(self.tokens)

    def unexpected(self, token: _Token, wanted: str) -> ExgenError:
        if token.text == ",":
            return ExgenError(f"cannot read {_quote(self.text)}: a comma only separates a function's "
                              "arguments, as in log(x, 2)")
        if token.text == ")":
            return ExgenError(f"cannot read {_quote(self.text)}: a ')' without its '('")
        return ExgenError(f"cannot read {_quote(self.text)}: {wanted} expected before {_quote(token.text)}")

    def deeper(self) -> None:
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            raise ExgenError(f"the expression is nested too deeply to read (more than {MAX_NESTING} brackets, "
                             "powers or functions inside one another)")

    def is_function_word(self, token: _Token | None) -> bool:
        return token is not None and token.kind == "word" and (
            token.text in FUNCTIONS or ("log" in FUNCTIONS and _LOG_BASE.fullmatch(token.text) is not None))

    def starts_application(self, ahead: int = 0) -> bool:
        """A function applied here: sin..., log_2..., or f(, g(, ..."""
        token = self.peek(ahead)
        return self.is_function_word(token) or (
            token is not None and token.text in FUNCTION_LETTERS and self.at("(", ahead=ahead + 1))

    # -- grammar -----------------------------------------------------------

    def read(self) -> sp.Expr:
        expr = self.sum()
        token = self.peek()
        if token is not None:
            raise self.unexpected(token, "an operator")
        both = self.as_function & self.as_variable
        if both:
            name = sorted(both)[0]
            raise ExgenError(f"{name!r} is both a function {name}(...) and a variable in {_quote(self.text)}; "
                             f"for a product write {name}*(...), and use another letter for the function")
        return expr

    def sum(self) -> sp.Expr:
        total = self.term()
        while self.at("+", "-"):
            op = self.take().text
            term = self.term()
            total = total + term if op == "+" else total - term
        return total

    def term(self) -> sp.Expr:
        """Products joined by * and /. A denominator is one factor: `1/2x`
        is (1/2) x to Python and SymPy but 1/(2x) to many students."""
        start = self.i
        left, _ = self.product()
        while self.at("*", "/"):
            op = self.take().text
            denominator_start = self.i
            right, factors = self.product()
            if op == "*":
                left = left * right
                continue
            if len(factors) > 1 or factors[0].letters:
                numerator = self.source(start, denominator_start - 1)
                typed = self.source(start, self.i)
                if len(factors) > 1:
                    first, rest = self.source(factors[0].start, factors[0].end), self.source(factors[1].start, self.i)
                else:
                    word = self.tokens[factors[0].start].text
                    first, rest = word[0], "*".join(word[1:]) + self.source(factors[0].start + 1, self.i)
                raise ExgenError(f"{_quote(typed)} is ambiguous: write {numerator}/({first}*{rest}) to divide "
                                 f"by the product, or ({numerator}/{first})*{rest}")
            left = left / right
        return left

    def product(self) -> tuple[sp.Expr, list[_Factor]]:
        """Factors side by side (`2x sin x`), after any signs."""
        negative = False
        while self.at("+", "-"):
            negative ^= self.take().text == "-"
        factors: list[_Factor] = []
        while True:
            token = self.peek()
            if token is None or (token.kind == "op" and token.text != "("):
                break
            if factors:
                self.check_may_follow(factors[-1], token)
            factors.append(self.factor())
        if not factors:
            token = self.peek()
            if token is None:
                self.take()  # raises: the expression ends too early
            raise self.unexpected(token, "a number, a name or '('")
        expr = sp.Mul(*(f.expr for f in factors))
        return (-expr if negative else expr), factors

    def check_may_follow(self, previous: _Factor, token: _Token) -> None:
        """Refuse a factor after `previous` where a student may mean something
        else: a number (`x 2`: x*2 or x^2?) or a factor after a power of e or a
        number whose exponent could run on (`e^2x`: e^(2x) or e^2*x?)."""
        if token.kind == "num":
            typed = self.source(previous.start, self.i + 1)
            raise ExgenError(f"cannot read {_quote(typed)}: a number after a factor; write "
                             f"{self.source(previous.start, previous.end)}*{token.text} (or a power with ^)")
        kind = previous.exponent_of_constant
        if kind is None or kind in ("variable", "group"):
            return
        if kind == "number" and self.starts_application() and token.spaced:
            return  # e^2 sin x (but e^2sin x may be e^(2 sin x))
        end = self.operand_end(self.i)
        base = self.tokens[previous.start].text
        exponent = self.source(previous.start + 2, previous.end)
        if previous.end - previous.start > 3:
            exponent = f"({exponent})"
        following = self.source(self.i, end)
        raise ExgenError(f"{_quote(self.source(previous.start, end))} is ambiguous: write "
                         f"{base}^{exponent}*{following} or {base}^({self.source(previous.start + 2, end)})")

    def factor(self) -> _Factor:
        """A number, name, bracket group or function application, with its power."""
        start = self.i
        token = self.peek()
        if self.is_function_word(token):
            expr = self.application()
            if self.at("^"):
                expr, _ = self.power(expr, start)
            return _Factor(expr, start, self.i)
        expr, constant, prefix = self.atom()
        kind = None
        if self.at("^"):
            expr, exponent_kind = self.power(expr, start)
            kind = exponent_kind if constant else None
            if token.kind == "word" and token.text in FUNCTION_LETTERS and self.at("("):
                # As a variable, f^2 (x) would be f^2 x; a student means f(x)^2 or f(f(x)).
                typed = self.source(start, self.operand_end(self.i))
                raise ExgenError(f"{_quote(typed)} is ambiguous: write {token.text}(...)^n for a power of "
                                 f"{token.text}(...), or {self.source(start, self.i)}*(...) for a product")
        return _Factor(prefix * expr, start, self.i, kind, letters=prefix != 1)

    def atom(self) -> tuple[sp.Expr, bool, sp.Expr]:
        """A number, name or bracket group; whether it is a constant base (a
        number, e or pi) whose power must not run on into a factor; and the
        letters before the last of a word read as a product (x for xy: a
        power applies to y alone, as xy^2 means x y^2)."""
        token = self.take()
        if token.kind == "op":
            if token.text != "(":
                raise self.unexpected(token, "a number, a name or '('")
            self.deeper()
            inner = self.sum()
            self.expect_close()
            return inner, False, sp.Integer(1)
        if token.kind == "num":
            return sp.Rational(token.text), True, sp.Integer(1)
        return self.name(token)

    def name(self, token: _Token) -> tuple[sp.Expr, bool, sp.Expr]:
        word = token.text
        one = sp.Integer(1)
        if word in CONSTANTS:
            return CONSTANTS[word], True, one
        if word in FUNCTION_LETTERS and self.at("("):
            return self.undefined_function(token), False, one
        name = canonical_name(word)
        if name is not None:
            if self.at("(") and name[0] in FUNCTION_LETTERS and len(word) > 1:
                raise ExgenError(f"{_quote(word + '(')}: only the single letters "
                                 f"{', '.join(sorted(FUNCTION_LETTERS))} are read as functions; for a product "
                                 f"write {word}*(...)")
            self.as_variable.add(name)
            return sp.Symbol(name, real=True), False, one
        if _splits_into_letters(word):
            if self.at("(") or self.starts_operand_after_space():
                raise self.unknown(word, function=True)
            self.as_variable.update(word)
            letters = [sp.Symbol(letter, real=True) for letter in word]
            return letters[-1], False, sp.Mul(*letters[:-1])
        raise self.unknown(word, function=self.at("("))

    def starts_operand_after_space(self) -> bool:
        """`tan x`, `cot 2x`: a word of letters used like a function."""
        token = self.peek()
        return (token is not None and token.spaced and not self.is_function_word(token)
                and (token.kind in ("num", "word") or token.text == "("))

    def unknown(self, word: str, function: bool) -> ExgenError:
        known = ", ".join(sorted(FUNCTIONS)) + ", log_2 (any whole base)"
        for name in sorted(FUNCTIONS, key=len, reverse=True):
            rest = word[len(name):]
            if word.startswith(name) and (canonical_name(rest) or re.fullmatch(r"[0-9.]+[A-Za-z]?", rest)):
                return ExgenError(f"unknown name {_quote(word)} in {_quote(self.text)}; for {name} of {rest} "
                                  f"write {name} {rest} or {name}({rest})")
        letters = re.findall(r"pi|[A-Za-z]", word)
        if 2 <= len(word) <= 3 and word.isalpha() and not function and ("pi" in letters or set(word) & {"e", "E"}):
            return ExgenError(f"unknown name {_quote(word)} in {_quote(self.text)}; e and pi are constants: for "
                              f"a product write {'*'.join(letters)}")
        if function:
            product = f"; for a product write {'*'.join(word)}*(...)" if _splits_into_letters(word) and self.at("(") else ""
            return ExgenError(f"unknown function {_quote(word)} in {_quote(self.text)}; functions exgen knows: "
                              f"{known}; arbitrary functions: {', '.join(sorted(FUNCTION_LETTERS))}{product}")
        return ExgenError(f"unknown name {_quote(word)} in {_quote(self.text)}; variables are a letter with an "
                          "optional hat and index (x, z1, z_1, w_k, yhat, y_hat), products of letters are "
                          f"written x*y or xy; functions exgen knows: {known}")

    def undefined_function(self, token: _Token) -> sp.Expr:
        letter = token.text
        self.take()  # "("
        self.deeper()
        if self.at(")"):
            raise ExgenError(f"{_quote(letter + '()')} needs an argument, such as {letter}(x)")
        argument = self.sum()
        if self.at(","):
            raise ExgenError(f"cannot read {_quote(self.text)}: exgen reads arbitrary functions of one "
                             f"argument, such as {letter}(x) or {letter}(g(x))")
        self.expect_close()
        self.as_function.add(letter)
        return sp.Function(letter)(argument)

    def power(self, base: sp.Expr, start: int) -> tuple[sp.Expr, str]:
        self.take()  # "^"
        exponent, kind = self.exponent(start)
        return self.raised(base, exponent, start), kind

    def raised(self, base: sp.Expr, exponent: sp.Expr, start: int) -> sp.Expr:
        """base^exponent, refused before SymPy computes a number too large."""
        if _magnitude_digits(sp.Pow(base, exponent, evaluate=False)) > MAX_MAGNITUDE_DIGITS:
            raise ExgenError(f"a number in {_quote(self.source(start, self.i))} is too large to work with")
        return base ** exponent

    def exponent(self, base_start: int) -> tuple[sp.Expr, str]:
        """What `^` raises to: one signed number, name, bracket group or
        function application, itself possibly raised (x^2^3 is x^(2^3)); and
        its kind (number, variable, group or function)."""
        self.deeper()
        start = self.i
        negative = False
        while self.at("+", "-"):
            negative ^= self.take().text == "-"
        token = self.peek()
        if self.is_function_word(token):
            expr, kind = self.application(), "function"
        else:
            if token is not None and token.kind == "word" and _splits_into_letters(token.text):
                power = self.source(base_start, self.i)
                letters = "*".join(token.text)
                raise ExgenError(f"{_quote(power + token.text)} is ambiguous: write {power}({letters}) or "
                                 f"{power}{token.text[0]}*{letters[2:]}")
            kind = ("group" if token is not None and token.text == "(" else
                    "number" if token is not None and token.kind == "num" else
                    "function" if token is not None and token.text in FUNCTION_LETTERS and self.at("(", ahead=1)
                    else "variable")
            expr, _, _ = self.atom()
        if self.at("^"):
            expr, _ = self.power(expr, start)
        self.nesting -= 1
        return (-expr if negative else expr), kind

    def application(self) -> sp.Expr:
        """sin(x), sin x, sin^2 x, log_2 x, log(x, 2)."""
        start = self.i
        token = self.take()
        self.deeper()
        name, constructor, extra = self.function(token)
        power = None
        if self.at("^"):
            self.take()
            exponent = self.peek()
            if exponent is None or exponent.kind != "num" or not exponent.text.isdigit() or int(exponent.text) < 1:
                typed = self.source(start, self.i + 3)
                raise ExgenError(f"{_quote(typed)}: only a whole power of at least 1 can stand between a "
                                 f"function and its argument ({name}^2 x is {name}(x)^2); write "
                                 f"1/{name}(x) or {name}(x)^(1/2) for other powers")
            self.take()
            power = sp.Integer(exponent.text)
        if self.at("("):
            arguments = self.arguments(name)
        else:
            arguments = [self.bare_argument(start)]
        try:
            expr = constructor(*arguments, *extra)
        except TypeError:
            raise ExgenError(f"cannot read {_quote(self.text)}: {name} has the wrong number of arguments "
                             "(log(u) or log(u, k); sin(u); softmax(i, z1, ..., zK))") from None
        except ValueError as exc:
            raise ExgenError(f"cannot read {_quote(self.text)}: {str(exc).splitlines()[0]}") from None
        self.nesting -= 1
        if power is not None:
            expr = self.raised(expr, power, start)
        return expr

    def function(self, token: _Token):
        base = _LOG_BASE.fullmatch(token.text)
        if base is not None:
            return token.text, FUNCTIONS["log"], (sp.Integer(base["base"]),)
        return token.text, FUNCTIONS[token.text], ()

    def arguments(self, name: str) -> list[sp.Expr]:
        self.take()  # "("
        self.deeper()
        if self.at(")"):
            raise ExgenError(f"{_quote(name + '()')} needs an argument, such as {name}(x)")
        arguments = [self.sum()]
        while self.at(","):
            self.take()
            arguments.append(self.sum())
        self.expect_close()
        return arguments

    def bare_argument(self, function_start: int) -> sp.Expr:
        """The one factor after a function written without brackets: an
        optional sign and number, then a name (or a nested function), with
        its power (`sin 2x`, `sin x^2`, `sin -x`, `sin cos x`, `ln yhat`)."""
        start = self.i
        head = self.source(function_start, start)
        negative = False
        while self.at("+", "-"):
            negative ^= self.take().text == "-"
        token = self.peek()
        # A sign belongs to the argument only when written against it: `sin -x`, not `sin + 1`.
        if token is None or (token.kind == "op" and token.text != "(") or (start < self.i and token.spaced):
            raise ExgenError(f"{_quote(head)} needs an argument in {_quote(self.text)}: write "
                             f"{head}(x) or {head} x")
        if self.is_function_word(token):
            expr = self.application()
        else:
            pieces = [self.factor()]
            following = self.peek()
            if (token.kind == "num" and following is not None and following.kind == "word"
                    and not following.spaced and not self.is_function_word(following)):
                self.check_may_follow(pieces[0], following)  # sin 2x, but not sin 2^3x
                pieces.append(self.factor())
            following = self.peek()
            if following is not None and not self.ends_bare_argument():
                self.check_may_follow(pieces[-1], following)  # sin e^2x
            expr = sp.Mul(*(p.expr for p in pieces))
        self.check_after_bare(function_start, start)
        return -expr if negative else expr

    def ends_bare_argument(self) -> bool:
        """The end, ), a comma, + or -, or another function: `sin x cos x`, `sin x f(x)`."""
        return self.peek() is None or self.at(")", ",", "+", "-") or self.starts_application()

    def check_after_bare(self, function_start: int, argument_start: int) -> None:
        """What may follow `sin x`: the end, a bracket closing, + or -, or
        another function (`sin x cos x`, `sin x * cos x`). Anything else could
        belong to the argument or not, so it is refused with both readings."""
        token = self.peek()
        # sin 2sin x: sin(2) sin(x) or sin(2 sin x)? Refused below.
        glued = self.starts_application() and not token.spaced and self.tokens[self.i - 1].kind == "num"
        if self.ends_bare_argument() and not glued:
            return
        if self.at("*", "/") and self.starts_application(ahead=1):
            return
        head, argument = self.source(function_start, argument_start), self.source(argument_start, self.i)
        explicit = token.kind == "op" and token.text != "("
        following_start = self.i + 1 if explicit else self.i
        end = self.operand_end(following_start)
        op, following = (token.text if explicit else "*"), self.source(following_start, end)
        raise ExgenError(f"{_quote(self.source(function_start, end))} is ambiguous: write "
                         f"{head}({argument}){op}{following} or {head}({argument}{op}{following})")


def parse_user_expression(text: str) -> tuple[sp.Expr, tuple[sp.Symbol, ...]]:
    """The expression and its variables (real symbols, sorted by name)."""
    text = text.strip()
    if not text:
        raise ExgenError("the expression is empty; for example: exgen solve \"x^2 sin 3x\"")
    if len(text) > MAX_LENGTH:
        raise ExgenError(f"the expression is longer than {MAX_LENGTH} characters")
    try:
        expr = _Reader(text).read()
    except RecursionError:
        raise ExgenError("the expression is nested too deeply to read") from None
    if not isinstance(expr, sp.Expr):
        raise ExgenError(f"{_quote(text)} is not an expression")
    if _magnitude_digits(expr) > MAX_MAGNITUDE_DIGITS:
        raise ExgenError(f"a number in {_quote(text)} is too large to work with")
    if expr.has(sp.zoo, sp.oo, -sp.oo, sp.nan):
        raise ExgenError(f"{_quote(text)} is undefined or infinite (it divides by zero or takes log of 0)")
    if expr.has(sp.I):
        raise ExgenError(f"{_quote(text)} is not real (it takes a root or logarithm of a negative number)")
    variables = tuple(sorted(expr.free_symbols, key=lambda s: s.name))
    return expr, variables
