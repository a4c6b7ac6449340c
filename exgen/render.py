"""Rendering: Jinja2 templates to .tex, and the sheet.json contract.

One Jinja environment with LaTeX-safe delimiters (`<< var >>`,
`((* block *))`, `((= comment =))`) and StrictUndefined, so a misspelt
variable is an error, never a blank on a printed page. Math enters templates
already printed by `forms.tex`; user prose goes through the `escape` filter
(pylatex's `escape_latex`).

Template variables (all documents):
  title, date, code, seed, count, difficulty: the sheet's options (prose is
      raw; templates escape it)
  problems: list of dicts with number, level, topic, steps, prompt, domain,
      answer, lines (guidebook only: the derivation, see `derivation_lines`)
  rules: rows {title, function, derivative} of every rule the sheet uses
"""

import hashlib
import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import jinja2
import sympy as sp
from pylatex.utils import escape_latex

from . import __version__
from .errors import ExgenError
from .forms import plain, tex
from .rules import RULES
from .sheet import Problem, Sheet
from .steps import Step, substituted
from .worked import approximate, plain_as_built

# The built-in templates are package data (exgen/templates/*.j2), found
# through importlib.resources: a wheel, a pipx install or a zip has them as
# well as a clone does. For an ordinary install this is a pathlib.Path.
TEMPLATE_DIR = resources.files("exgen").joinpath("templates")
BUILT_IN = "built-in"


# pdflatex with T1 fonts and utf8 input typesets Latin scripts (Zoë Ñúñez)
# and the usual typographic punctuation; anything else would stop TeX with an
# error, so it is refused up front.
LAST_LATIN = 0x24F
PUNCTUATION = "\u2013\u2014\u2018\u2019\u201a\u201c\u201d\u201e\u2020\u2021\u2022\u2026\u2030\u2039\u203a\u20ac"


def escape(text: str) -> str:
    """User prose, printed literally by LaTeX (never run as TeX)."""
    text = str(text)
    for char in text:
        printable = ord(char) <= LAST_LATIN or char in PUNCTUATION
        if not printable or (ord(char) < 32 and char not in "\t"):
            raise ExgenError(f"the text {text!r} has the character {char!r} (U+{ord(char):04X}), which "
                             "pdflatex with T1 fonts cannot print; write it without that character")
    return escape_latex(text)


class TemplateLoader(jinja2.BaseLoader):
    """An instructor's folder first (if any), then the built-in templates.
    Remembers where each template it loaded came from and a sha256 of its
    text, so that the manifest can record the templates a folder was made with."""

    def __init__(self, template_dir: Path | None = None):
        self.sources: list[tuple[str, jinja2.BaseLoader]] = [(BUILT_IN, jinja2.PackageLoader("exgen", "templates"))]
        if template_dir is not None:
            self.sources.insert(0, (str(template_dir), jinja2.FileSystemLoader(str(template_dir))))
        self.used: dict[str, tuple[str, str]] = {}  # name -> (origin, sha256 of the text)

    def get_source(self, environment, template):
        for origin, loader in self.sources:
            try:
                source, filename, uptodate = loader.get_source(environment, template)
            except jinja2.TemplateNotFound:
                continue
            self.used[template] = (origin, hashlib.sha256(source.encode("utf-8")).hexdigest())
            return source, filename, uptodate
        raise jinja2.TemplateNotFound(template)


def make_environment(template_dir: Path | None = None) -> jinja2.Environment:
    """The one Jinja environment; an instructor's `template_dir` comes first,
    and any template missing there falls back to the built-in one."""
    env = jinja2.Environment(
        loader=TemplateLoader(template_dir),
        block_start_string="((*", block_end_string="*))",
        variable_start_string="<<", variable_end_string=">>",
        comment_start_string="((=", comment_end_string="=))",
        undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["escape"] = escape
    return env


# A right-hand side longer than this (in visible characters) is boxed, and the
# box shrinks to the line width only if it is wider; shorter rows stay as they are.
LONG_ROW = 30


LONG_LHS = 28


# Commands printed as words take their letters' width (sin t cos t is wide, not "t t").
_WORDS = re.compile(r"\\(sin|cos|tan|sec|ln|log|exp|tanh|arcsin|arccos|arctan|max)\b")


def _visible(latex: str) -> int:
    return len(re.sub(r"\\left|\\right|\\[a-z]+|[\s{}]", "", _WORDS.sub(r"\1", latex)))


def fit(latex: str, share: str = "0.58", limit: int = LONG_ROW) -> str:
    """Math that would overflow a line, shrunk to fit it (graphicx)."""
    if _visible(latex) <= limit:
        return latex
    return (r"\resizebox{\ifdim\width>%s\linewidth %s\linewidth\else\width\fi}{!}{$\displaystyle %s$}"
            % (share, share, latex))


# Past this many visible characters a row shrunk to fit would be too small to
# read; it is split into two rows at a top-level operator instead.
SPLIT_ROW = 70
_TOKENS = re.compile(r"\\begin\{[^}]*\}|\\end\{[^}]*\}|\\left[(\[.|]|\\right[)\].|]|[{}]"
                     r"| \+ | - | \\cdot | (?=[\\A-Za-z0-9])")
# A command with its sub- and superscripts (\ln^{2}, \log_{2}): what follows is its argument.
_COMMAND_BEFORE = re.compile(r"\\[A-Za-z]+(?:[_^](?:\{[^{}]*\}|[A-Za-z0-9]))*$")


def _split_point(latex: str) -> tuple[int, int, str] | None:
    """Where to break `latex` in two, nearest the middle: at a top-level + or -,
    else a cdot, else between two factors written side by side; as (start, end,
    the operator the second row begins with)."""
    depth, middle, found = 0, _visible(latex) / 2, {}
    for match in _TOKENS.finditer(latex):
        token = match.group()
        if token == "{" or token.startswith((r"\left", r"\begin")):
            depth += 1
        elif token == "}" or token.startswith((r"\right", r"\end")):
            depth -= 1
        elif depth == 0:
            operator = token.strip()
            if not operator and _COMMAND_BEFORE.search(latex, 0, match.start()):
                continue  # \ln x: a function and its argument stay together
            kind = "sum" if operator in ("+", "-") else "cdot" if operator else "factor"
            found.setdefault(kind, []).append((match.start(), match.end(), operator or r"\cdot"))
    for kind in ("sum", "cdot", "factor"):
        if found.get(kind):
            return min(found[kind], key=lambda place: abs(_visible(latex[:place[0]]) - middle))
    return None


def fit_row(latex: str, splits: int = 2) -> str:
    """One right-hand side: as it is, shrunk a little, or over several rows."""
    place = _split_point(latex) if splits and _visible(latex) > SPLIT_ROW else None
    if place is None:
        return fit(latex)
    start, end, operator = place
    head, tail = latex[:start].strip(), latex[end:].strip()
    if not head or not tail:
        return fit(latex)
    return r"%s \\ &\quad %s %s" % (fit_row(head, splits - 1), operator, fit_row(tail, splits - 1))


def fit_lhs(latex: str) -> str:
    """A long left-hand side gets a line of its own, the full text width, centred;
    the derivation continues below it with "= ...". (In a column of the align it
    would start at the alignment point, wherever the other rows put it.)"""
    if _visible(latex) <= LONG_LHS:
        return latex
    return r"\intertext{\centering %s}" % fit(latex, "1.0", 0)


@dataclass(frozen=True)
class Line:
    """One row of a worked solution: a phrase naming the rule, then the math."""

    phrase: str
    lhs: str
    rhs: tuple[str, ...]


def _d(wrt: sp.Symbol, partial: bool) -> str:
    if partial:
        return r"\frac{\partial}{\partial %s}" % tex(wrt)
    return r"\frac{d}{d%s}" % tex(wrt)


def _wrap(expr: sp.Expr) -> str:
    printed = tex(expr)
    if expr.is_Add or expr.could_extract_minus_sign() or (expr.is_Rational and not expr.is_Integer):
        return r"\left(%s\right)" % printed
    return printed


_SILENT = ("constant", "identity")


def _phrase(step: Step) -> str:
    """A tutor's lead-in for one rule application, in text mode."""
    title = RULES[step.rule].title
    parts = dict(step.parts)
    if step.rule in ("product", "quotient"):
        return r"%s with $f = %s$, $g = %s$:" % (title, tex(parts["f"]), tex(parts["g"]))
    if step.rule == "chain":
        return r"%s with outer $%s$ and inner $%s = %s$:" % (
            title, tex(parts["outer"]), tex(parts["u"]), tex(parts["inner"]))
    if step.rule == "constant_multiple":
        return r"%s with $k = %s$:" % (title, tex(parts["k"]))
    if step.rule == "log_differentiation":
        return r"%s, writing $%s = e^{%s}$:" % (title, tex(step.expr), tex(parts["g"] * sp.log(parts["f"])))
    row = RULES[step.rule]
    return r"%s, $%s \to %s$:" % (title, row.function, row.derivative)


def _combination(step: Step) -> str | None:
    """The rule's formula with this node's parts filled in (None: nothing to show)."""
    parts = dict(step.parts)
    subs = [s.result for s in step.substeps]
    if step.rule == "product":
        df, dg = subs
        return r"%s \cdot %s + %s \cdot %s" % (_wrap(parts["f"]), _wrap(dg), _wrap(parts["g"]), _wrap(df))
    if step.rule == "quotient":
        df, dg = subs
        return r"\frac{%s \cdot %s - %s \cdot %s}{%s}" % (
            _wrap(parts["g"]), _wrap(df), _wrap(parts["f"]), _wrap(dg), tex(parts["g"] ** 2))
    if step.rule == "chain":
        outer, inner_d = subs
        return r"%s \cdot %s" % (_wrap(substituted(outer, parts["u"], parts["inner"])), _wrap(inner_d))
    if step.rule == "constant_multiple":
        return r"%s \cdot %s" % (_wrap(parts["k"]), _wrap(subs[0]))
    if step.rule in ("sum", "difference"):
        out = tex(subs[0])
        for s in subs[1:]:
            out += " - " + _wrap(-s) if s.could_extract_minus_sign() else " + " + _wrap(s)
        return out
    if step.rule == "log_differentiation":
        return r"%s \cdot %s" % (_wrap(step.expr), _wrap(subs[0]))
    return None


def _difference_quotient(expr: sp.Expr, wrt: sp.Symbol, h: sp.Symbol) -> str:
    """(f(x+h) - f(x)) / h as a student writes it, before any algebra."""
    placeholder = sp.Symbol("XPLUSH")
    shifted = tex(expr.xreplace({wrt: placeholder})).replace(
        "XPLUSH", r"\left(%s + %s\right)" % (tex(wrt), tex(h)))
    return r"\frac{%s - \left(%s\right)}{%s}" % (shifted, tex(expr), tex(h))


def _chain_terms(step: Step, paths: int, partial: bool) -> tuple[str, ...]:
    """dz/dt term by term: each partial times its path's rate, then the same in t."""
    partials, rates = step.substeps[:paths], step.substeps[paths:]
    d = r"\partial " if partial else "d"
    names = r" + ".join(r"\frac{\partial f}{\partial %s} \frac{%s%s}{%s%s}" % (tex(x), d, tex(x), d, tex(step.wrt))
                        for x, _ in step.bindings)
    terms = r" + ".join(r"%s \cdot %s" % (_wrap(p.result), _wrap(r.result)) for p, r in zip(partials, rates))
    paths = dict(step.bindings)  # x = x(t), y = y(t) put in
    in_t = r" + ".join(r"%s \cdot %s" % (_wrap(p.result.xreplace(paths)), _wrap(r.result)) for p, r in zip(partials, rates))
    return tuple(fit_row(row) for row in dict.fromkeys((names, terms, in_t, tex(step.result))))


def derivation_lines(step: Step, partial: bool = False, top: bool = True,
                     bound: frozenset = frozenset()) -> list[Line]:
    """The worked solution, innermost rules first, as a tutor writes it.

    With several variables the problem's derivatives are partial; a chain
    rule's own variable u (`bound` below its node) is a one-variable outer
    function, so d/du stays ordinary."""
    lines: list[Line] = []
    inner_bound = bound | {symbol for symbol, _ in step.bindings} if step.rule == "chain" else bound
    # z = f(x, y): f's derivatives by x and y are partial, the paths' by t ordinary.
    paths = len(step.bindings) if step.rule == "multivariable_chain" else 0
    for position, sub in enumerate(step.substeps):
        lines.extend(derivation_lines(sub, partial or position < paths, top=False, bound=inner_bound))
    if step.rule in _SILENT and not top:
        return lines
    lhs = r"%s\left[%s\right]" % (_d(step.wrt, partial and step.wrt not in bound), tex(step.expr))
    if paths:
        return lines + [Line(_phrase(step), fit_lhs(lhs), _chain_terms(step, paths, partial))]
    result = tex(step.result)
    if step.rule == "simplify":
        rows = tuple(tex(form) for _, form in step.parts) + (result,)
        return lines + [Line("Simplify:", fit_lhs(lhs), tuple(fit_row(row) for row in rows))]
    if step.rule == "first_principles":
        parts = dict(step.parts)
        limit = r"\lim_{%s \to 0}" % tex(parts["h"])
        rows = (r"%s %s" % (limit, _difference_quotient(step.expr, step.wrt, parts["h"])),) + tuple(
            r"%s %s" % (limit, _wrap(parts[name])) for name in ("expanded", "simplified"))
        return lines + [Line(_phrase(step), lhs, rows + (result,))]
    combination = _combination(step)
    rhs = (combination, result) if combination and combination != result else (result,)
    return lines + [Line(_phrase(step), fit_lhs(lhs), tuple(fit_row(r) for r in rhs))]




def question(exercise, wrt: sp.Symbol, name: str | None = None, by: tuple = ()) -> str:
    """How the problem names the derivative it asks for: f'(x), f''(x), dz/dt,
    or a partial; `by`, the variables of a higher derivative in the order they
    are taken (f_xy = d/dy (df/dx) is written d^2 f / dy dx)."""
    name = name or exercise.name
    by = by or (wrt,)
    n = len(by)
    if len(exercise.variables) > 1:
        if n == 1:
            return r"\frac{\partial %s}{\partial %s}" % (name, tex(wrt))
        if len(set(by)) == 1:
            return r"\frac{\partial^{%d} %s}{\partial %s^{%d}}" % (n, name, tex(wrt), n)
        return r"\frac{\partial^{%d} %s}{%s}" % (n, name, r" \, ".join(r"\partial %s" % tex(v) for v in reversed(by)))
    if name == "f":
        return r"f%s(%s)" % ("'" * n, tex(wrt))
    if n == 1:
        return r"\frac{d%s}{d%s}" % (name, tex(wrt))
    return r"\frac{d^{%d}%s}{d%s^{%d}}" % (n, name, tex(wrt), n)


def prompt(exercise) -> str:
    if exercise.prompt:
        return exercise.prompt
    arguments = ", ".join(tex(v) for v in exercise.variables)
    return r"%s(%s) = %s" % (exercise.name, arguments, tex(exercise.expr))


def question_at(exercise, wrt: sp.Symbol, at, name: str | None = None, by: tuple = ()) -> str:
    """f'(2), or the derivative's symbol with an evaluation bar at the point."""
    if len(exercise.variables) == 1 and exercise.name == "f":
        return r"f%s(%s)" % ("'" * max(1, len(by)), tex(at[0][1]))
    where = ", ".join(r"%s = %s" % (tex(v), tex(a)) for v, a in at)
    return r"\left. %s \right|_{%s}" % (question(exercise, wrt, name, by), where)


def _questions(ex, problem: Problem) -> str:
    """What the sheet asks: f'(2), or each derivative and then the point once."""
    if ex.components:  # the name says which Jacobian
        return ex.name + (r" \text{ at } " + _where(problem.at) if problem.at else "")
    if ex.order > 1:
        if len(ex.wrt) > 1:
            entries = [question(ex, by[-1], by=by) for by in ex.orders]
            asked = r"\text{the Hessian } H = %s" % matrix_latex(entries, len(ex.wrt))
        elif problem.at:
            return r"f%s(%s)" % ("'" * ex.order, tex(problem.at[0][1])) if ex.name == "f" else (
                question(ex, ex.wrt[0], by=ex.orders[0]) + r" \text{ at } " + _where(problem.at))
        else:
            asked = question(ex, ex.wrt[0], by=ex.orders[0])
        return asked + (r" \text{ at } " + _where(problem.at) if problem.at else "")
    if problem.at and (len(ex.variables) > 1 or ex.name != "f"):
        where = ", ".join(r"%s = %s" % (tex(v), tex(a)) for v, a in problem.at)
        return ", ".join(question(ex, w) for w in ex.wrt) + r" \text{ at } " + where
    if problem.at:
        return question_at(ex, ex.wrt[0], problem.at)
    return ", ".join(question(ex, w) for w in ex.wrt)


def _where(at) -> str:
    return ", ".join(r"%s = %s" % (tex(v), tex(a)) for v, a in at)


def matrix_latex(entries: list[str], width: int) -> str:
    rows = [entries[start:start + width] for start in range(0, len(entries), width)]
    return r"\begin{bmatrix} %s \end{bmatrix}" % r" \\[6pt] ".join(
        " & ".join(r"\displaystyle " + entry for entry in row) for row in rows)


def fit_matrix(latex: str) -> str:
    """A matrix at full size, shrunk only where it is wider than the line."""
    return fit(latex, "0.85", 0)


def _jacobian_solution(problem: Problem, by_rule: list[Step]) -> dict:
    """The Jacobian as a matrix: the entries derived in full above, the others
    by the rule those derivations lead to (each entry a checked tree)."""
    ex = problem.exercise
    width = len(ex.wrt)
    phrase = (_phrase(by_rule[0])[:-1] + r", entry by entry (row $i$, column $j$):" if by_rule
              else "The entries as a matrix:")
    lines = [Line(phrase, "J", (fit_matrix(matrix_latex([tex(d.result) for d in problem.derivations], width)),))]
    answer = "J = " + lines[0].rhs[0]
    if problem.at:  # the boxed answer is the evaluated matrix; it is not printed twice
        answer = r"J\big|_{%s} = %s" % (_where(problem.at), fit_matrix(matrix_latex([tex(v) for v in problem.values],
                                                                                   width)))
    return {"question": "J", "answer": answer, "lines": [line.__dict__ for line in lines], "boxed": True}


def _row_latex(row, decimals: int) -> tuple[str, tuple[str, ...]]:
    """(left side, right-hand sides) of a worked row, with the value to
    `decimals` places at the end where the sheet asks for decimals."""
    lhs = " = ".join(tex(part) for part in (row.name, row.lhs) if part is not None)
    rhs = [tex(form) for form in row.forms]
    approx = _approximation(row, decimals)
    if approx:
        rhs[-1] += r" \approx %s" % approx
    return lhs, tuple(rhs)


def _approximation(row, decimals: int) -> str:
    """The row's value to `decimals` places (LaTeX; a matrix entry by entry),
    unless it is already printed exactly."""
    value = row.value
    if not decimals or not row.approximate or not isinstance(value, sp.Basic) or value.free_symbols:
        return ""
    entries = list(value) if isinstance(value, sp.MatrixBase) else [value]
    if all(e.is_Rational and (e * 10 ** decimals).is_Integer for e in entries):
        return ""
    texts = [approximate(e, decimals) for e in entries]
    if not isinstance(value, sp.MatrixBase):
        return texts[0]
    return tex(sp.ImmutableMatrix(value.rows, value.cols, [sp.Symbol(t) for t in texts]))


def _worked_phrase(row) -> str:
    """A row's lead-in: the unit, and the rules its step applies."""
    rules = [RULES[name].title for name in row.rules if name != "weighted_sum" or row.role != "gradient"]
    label = escape(row.label[:1].upper() + row.label[1:]) if row.label else ""
    if label and rules:
        return "%s (%s):" % (label, "; ".join(rules))
    return label + ":" if label else ""


def worked_context(problem: Problem, decimals: int = 0) -> dict:
    """A worked key (forward table, backward pass, answers) as template data."""
    worked = problem.exercise.worked
    table, solutions = [], []
    for title, rows in worked.sections:
        if rows and all(row.role == "forward" for row in rows):
            for row in rows:
                lhs, rhs = _row_latex(row, decimals)
                table.append({"name": lhs, "formula": rhs[0], "value": " = ".join(rhs[1:])})
            continue
        lines = []
        for row in rows:
            lhs, rhs = _row_latex(row, decimals)
            if row.role == "gradient":  # an answer asked: boxed where it is found
                rhs = rhs[:-1] + (r"\boxed{%s}" % rhs[-1],)
            one_line = " = ".join(rhs)
            rhs = (one_line,) if _visible(one_line) <= WORKED_ROW else tuple(fit_row(r) for r in rhs)
            lines.append(Line(_worked_phrase(row), fit_lhs(lhs), rhs).__dict__)
        solutions.append({"title": title, "question": "", "answer": "", "lines": lines, "boxed": False})
    answers = []
    for row in worked.rows:
        if row.role == "gradient":
            lhs, rhs = _row_latex(row, decimals)
            answers.append("%s = %s" % (lhs, rhs[-1]))
    return {"table": table, "solutions": solutions, "answers": answers}


# A worked row's forms share one line up to this many visible characters.
WORKED_ROW = 70


def problem_context(problem: Problem, decimals: int = 0) -> dict:
    ex = problem.exercise
    if ex.worked is not None:
        places = r" \text{ (every value to %d decimal places)}" % decimals if decimals and any(
            _approximation(row, decimals) for row in ex.worked.rows) else ""
        return {"number": problem.number, "level": problem.level, "topic": ex.topic, "steps": problem.steps,
                "prompt": prompt(ex), "domain": "", "note": ex.note,
                "questions": r", \allowbreak ".join(tex(a) for a in ex.worked.asked) + places,
                **worked_context(problem, decimals), **choices_context(problem)}
    partial = len(ex.variables) > 1
    solutions, by_rule, shown = [], [], set()
    hessian = ex.order > 1 and len(ex.wrt) > 1
    for i, ((name, _, w), derivation) in enumerate(zip(ex.targets, problem.derivations)):
        if ex.components and not derivation.substeps:
            by_rule.append(derivation)  # one application of a rule: shown in the matrix
            continue
        lines = []
        for stage in problem.earlier[i] if problem.earlier else ():
            if (stage.expr, stage.wrt) not in shown:  # f_x once, though f_xx and f_xy both start from it
                shown.add((stage.expr, stage.wrt))
                lines += [line.__dict__ for line in derivation_lines(stage, partial)]
        lines += [line.__dict__ for line in derivation_lines(derivation, partial)]
        asked = question(ex, w, name if ex.components else None, ex.orders[i] if not ex.components else ())
        answer = r"%s = %s" % (asked, tex(derivation.result))
        if problem.at:
            asked = question_at(ex, w, problem.at, name if ex.components else None,
                                ex.orders[i] if not ex.components else ())
            where = ", ".join(r"$%s = %s$" % (tex(v), tex(a)) for v, a in problem.at)
            lines.append(Line(f"Evaluate at {where}:", asked, (tex(problem.values[i]),)).__dict__)
            answer = r"%s = %s" % (asked, tex(problem.values[i]))
        # A Jacobian's (or Hessian's) entries lead to the matrix, which alone is boxed.
        solutions.append({"question": asked, "answer": answer, "lines": lines,
                          "boxed": not (ex.components or hessian)})
    answers = [s["answer"] for s in solutions]
    if ex.components:
        solutions.append(_jacobian_solution(problem, by_rule))
        answers = [solutions[-1]["answer"]]
    elif hessian:
        matrix = fit_matrix(matrix_latex([tex(v) for v in (problem.values or problem.answers)], len(ex.wrt)))
        where = r"\big|_{%s}" % _where(problem.at) if problem.at else ""
        solutions.append({"question": "H", "answer": r"H%s = %s" % (where, matrix), "lines": [], "boxed": True})
        answers = [solutions[-1]["answer"]]
    return {
        "number": problem.number,
        "level": problem.level,
        "topic": ex.topic,
        "steps": problem.steps,
        "prompt": prompt(ex),
        "domain": ex.statement,
        "note": ex.note,
        "questions": _questions(ex, problem),
        "solutions": solutions,
        "answers": answers,
        "table": [],
        **choices_context(problem),
    }


def sheet_context(sheet: Sheet) -> dict:
    o = sheet.options
    used: dict[str, None] = {}
    for problem in sheet.problems:
        for name in problem.rules_used:
            used.setdefault(name, None)
    rules = [RULES[name] for name in RULES if name in used]
    problems = [problem_context(p, o.decimals) for p in sheet.problems]
    for problem, context in zip(sheet.problems, problems):
        context["section"] = problem.section
    return {
        "title": o.title,
        "course": o.course,
        "instructor": o.instructor,
        "date": o.date,
        "code": o.code,
        "seed": o.seed,
        "count": o.total,
        "difficulty": o.difficulty,
        "version": __version__,
        "version_letter": sheet.version,
        "student": {"id": o.student, "name": o.student_name} if o.student else None,
        "problems": problems,
        "rules": [{"title": r.title, "function": r.function, "derivative": r.derivative} for r in rules],
    }


def file_names(sheet: Sheet) -> dict[str, str]:
    """exercises.tex, guidebook.tex, sheet.json, with -A, -B, ... for versions."""
    suffix = f"-{sheet.version}" if sheet.version else ""
    prefix = f"{sheet.options.student}-" if sheet.options.student else ""
    return {"exercises": f"{prefix}exercises{suffix}.tex", "guidebook": f"{prefix}guidebook{suffix}.tex",
            "json": f"{prefix}sheet{suffix}.json"}


def render_template(env: jinja2.Environment, name: str, context: dict) -> str:
    """A template rendered, or one line saying which template and line went wrong."""
    try:
        return env.get_template(name).render(context)
    except jinja2.TemplateSyntaxError as exc:
        raise ExgenError(f"{exc.filename or exc.name or name}:{exc.lineno}: template syntax error: {exc.message}") \
            from None
    except jinja2.TemplateNotFound as exc:
        raise ExgenError(f"template {exc.name} not found in the template folders") from None
    except (jinja2.UndefinedError, TypeError, AttributeError) as exc:
        where = name
        tb = exc.__traceback__
        while tb is not None:
            filename = tb.tb_frame.f_code.co_filename
            if filename.endswith(".j2"):
                where = f"{filename}:{tb.tb_lineno}"
            tb = tb.tb_next
        if isinstance(exc, jinja2.UndefinedError):
            raise ExgenError(f"{where}: {exc.message}; the variables each template receives are in the README") \
                from None
        raise


def render_documents(sheet: Sheet, env: jinja2.Environment | None = None) -> dict[str, str]:
    """File name -> contents for the exercise sheet, the guidebook and the JSON."""
    env = env or make_environment()
    context = sheet_context(sheet)
    names = file_names(sheet)
    return {
        names["exercises"]: render_template(env, "exercises.tex.j2", context),
        names["guidebook"]: render_template(env, "guidebook.tex.j2", context),
        names["json"]: sheet_json(sheet),
    }


def render_answer_key(sheets, env: jinja2.Environment | None = None) -> str:
    """The instructor's key: every version's final answers, problem numbers aligned."""
    env = env or make_environment()
    first = sheet_context(sheets[0])
    versions = []
    for sheet in sheets:
        rows = []
        for problem in sheet.problems:
            context = problem_context(problem, sheet.options.decimals)
            rows.append({"number": problem.number, "topic": problem.exercise.topic,
                         "answers": context["answers"]})
        versions.append({"letter": sheet.version, "rows": rows})
    return render_template(env, "answer_key.tex.j2", {**first, "version_letter": "", "versions": versions})


def step_json(step: Step, partial: bool = False, bound: frozenset = frozenset(), latex: bool = True) -> dict:
    """One node and its substeps; `partial` and `bound` as in `derivation_lines`.
    Without `latex` (a worked key's trees, whose key is its rows) no node has "latex"."""
    inner_bound = bound | {symbol for symbol, _ in step.bindings} if step.rule == "chain" else bound
    paths = len(step.bindings) if step.rule == "multivariable_chain" else 0
    return {
        "rule": step.rule,
        "wrt": step.wrt.name,
        "expr": plain(step.expr),
        "result": plain(step.result),
        **({"latex": r"%s\left[%s\right] = %s" % (_d(step.wrt, partial and step.wrt not in bound),
                                                   tex(step.expr), tex(step.result))} if latex else {}),
        "substeps": [step_json(s, partial or position < paths, inner_bound, latex)
                     for position, s in enumerate(step.substeps)],
    }


def worked_json(p: Problem, decimals: int = 0) -> list[dict]:
    """A worked key's rows: what each states, its forms (check strings and LaTeX), its exact value."""
    rows = []
    for title, section in p.exercise.worked.sections:
        for row in section:
            lhs, rhs = _row_latex(row, decimals)
            entry = {"section": title, "role": row.role, "latex": "%s = %s" % (lhs, " = ".join(rhs)),
                     "value": plain_as_built(row.value)}
            if row.name is not None:
                entry["name"] = row.name.name
            if decimals and not row.value.free_symbols:
                entries = list(row.value) if isinstance(row.value, sp.MatrixBase) else [row.value]
                approx = [approximate(e, decimals) for e in entries]
                entry["approx"] = approx if isinstance(row.value, sp.MatrixBase) else approx[0]
            rows.append(entry)
    return rows


def problem_json(p: Problem, decimals: int = 0) -> dict:
    single = len(p.exercise.wrt) == 1 and not p.exercise.components
    if p.exercise.worked is not None:
        return {**_problem_json(p, single, [tex(r.forms[-1]) for r in p.exercise.worked.rows if r.role == "gradient"]),
                "worked": worked_json(p, decimals)}
    return _problem_json(p, single, [tex(a) for a in (p.values or p.answers)])


def _problem_json(p: Problem, single: bool, answers: list[str]) -> dict:
    latex = p.exercise.worked is None
    trees = [step_json(d, len(p.exercise.variables) > 1, latex=latex) for d in p.derivations]
    if p.earlier:  # a higher derivative: its stages in order, per derivative asked
        trees = [[step_json(s, len(p.exercise.variables) > 1) for s in stages] + [tree]
                 for stages, tree in zip(p.earlier, trees)]
    return {
        "number": p.number,
        **({"section": p.section} if p.section else {}),
        "topic": p.exercise.topic,
        "rules": list(p.rules_used),
        "difficulty": {"level": p.level, "steps": p.steps},
        "domain": p.exercise.statement or "all real numbers",
        "prompt_latex": prompt(p.exercise),
        "answer_latex": (matrix_latex(answers, len(p.exercise.wrt))
                         if p.exercise.components or (p.exercise.order > 1 and not single)
                         else answers[0] if single else answers),
        "check": p.check,
        "steps": trees[0] if single else trees,
        **({"choices": choices_json(p)} if p.choices else {}),
    }


def sheet_json(sheet: Sheet) -> str:
    o = sheet.options
    document = {
        "exgen_version": __version__,
        "seed": o.seed,
        "count": o.total,
        "difficulty": o.difficulty,
        "topics": list(o.topics),
        "title": o.title,
        "code": o.code,
    }
    if sheet.version:
        document["version"] = sheet.version
    if o.sections:
        document["sections"] = [{"title": p.title, "count": p.count, "difficulty": p.difficulty,
                                 "topics": list(p.topics)} for p in o.sections]
    if o.student:
        document["student"] = o.student
    document["problems"] = [problem_json(p, o.decimals) for p in sheet.problems]
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def solution_text(step: Step, depth: int = 0) -> list[str]:
    """The derivation as indented plain text, innermost rules first."""
    lines = []
    for sub in step.substeps:
        lines.extend(solution_text(sub, depth + 1))
    if step.rule in _SILENT and depth > 0:
        return lines
    lines.append("%s%s: d/d%s [%s] = %s" % ("  " * depth, RULES[step.rule].title, step.wrt.name,
                                           sp.sstr(step.expr), sp.sstr(step.result)))
    return lines


def solution_latex(step: Step, partial: bool = False) -> str:
    body = []
    for line in derivation_lines(step, partial):
        rows = " \\\\\n  &= ".join(line.rhs)
        body.append(f"  \\intertext{{{line.phrase}}}\n  {line.lhs} &= {rows}")
    return "\\begin{align*}\n" + " \\\\\n".join(body) + "\n\\end{align*}\n"


# -- multiple choice (exgen/choices.py) ------------------------------------

# Options whose longest prints in at most this many visible characters share
# a row (a grid of up to three columns); longer ones get a line each.
SHORT_CHOICE, MEDIUM_CHOICE = 16, 34


def choice_latex(problem: Problem, answers) -> str:
    """An option printed as the right answer is: one expression, a vector of
    derivatives, or a matrix (a Jacobian or Hessian)."""
    ex = problem.exercise
    if len(answers) == 1:
        return tex(answers[0])
    if ex.components or ex.order > 1:
        return matrix_latex([tex(a) for a in answers], len(ex.wrt))
    return r"\left(%s\right)" % ", ".join(tex(a) for a in answers)


def choices_json(problem: Problem) -> list[dict]:
    """sheet.json `choices`: label, latex, expr (a check string, as `check`'s
    answer is written), correct, mistake (its id, or null for the right one)."""
    ex = problem.exercise
    out = []
    for c in problem.choices:
        strings = [plain(a) for a in c.answers]
        if len(strings) == 1:
            expr = strings[0]
        elif ex.components or ex.order > 1:
            width = len(ex.wrt)
            expr = "Matrix([%s])" % ", ".join("[%s]" % ", ".join(strings[k:k + width])
                                               for k in range(0, len(strings), width))
        else:
            expr = strings
        out.append({"label": c.label, "latex": choice_latex(problem, c.answers), "expr": expr,
                    "correct": c.correct, "mistake": c.mistake})
    return out


def choices_context(problem: Problem) -> dict:
    """Template variables of a multiple-choice problem: `choices` (rows of
    options {label, latex, correct, mistake, words}), `choice_width` (each
    column's share of the line) and `answer_letter`; empty without choices."""
    if not problem.choices:
        return {"choices": [], "choice_width": "1", "answer_letter": ""}
    options = [{"label": c.label, "latex": choice_latex(problem, c.answers), "correct": c.correct,
                "mistake": c.mistake or "", "words": c.words} for c in problem.choices]
    longest = max(_visible(o["latex"]) for o in options)
    columns = 3 if longest <= SHORT_CHOICE else 2 if longest <= MEDIUM_CHOICE else 1
    columns = min(columns, len(options))
    share = "%.2f" % (0.96 / columns)
    for o in options:
        o["latex"] = fit(o["latex"], share, MEDIUM_CHOICE if columns < 3 else SHORT_CHOICE)
    rows = [options[k:k + columns] for k in range(0, len(options), columns)]
    return {"choices": rows, "choice_width": share,
            "answer_letter": next(c.label for c in problem.choices if c.correct)}
