"""Rendering: Jinja2 templates to .tex, and the sheet.json contract.

One Jinja environment with LaTeX-safe delimiters (`<< var >>`,
`((* block *))`, `((= comment =))`) and StrictUndefined, so a misspelt
variable is an error, never a blank on a printed page. Math enters templates
already printed by `forms.tex`; user prose goes through the `escape` filter
(pylatex's `escape_latex`).

The keys are the problems' narrations (`narrate.py`) at the sheet's key
level, printed by the LaTeX writer (`writers.py`) for the templates and by
the JSON writer for sheet.json's `lines`.

Template variables (all documents):
  title, date, code, seed, count, difficulty: the sheet's options (prose is
      raw; templates escape it); key: the key level
  problems: list of dicts with number, level, topic, steps, prompt, domain,
      note, questions, blocks (the key: a phrase and the rows of an align*),
      answers (the final answers as inline math)
  rules: rows {title, function, derivative} of every rule the sheet uses
"""

import hashlib
import json
from importlib import resources
from pathlib import Path

import jinja2
import sympy as sp
from pylatex.utils import escape_latex

from . import __version__
from .errors import ExgenError
from .forms import plain, tex
from .narrate import DEFAULT_POLICY, Narration
from .rules import RULES
from .sheet import Problem, Sheet
from .steps import Step
from .worked import Partial, choice_decimals, plain_as_built, row_approximation
from .writers import ROW, answer_rows, json_lines, latex_blocks, latex_equation, width

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


# What "Problem 12 (medium, 16 rule applications)" takes of a line, in `writers.width` units.
HEADING_WIDTH = 40


def _asker(problem: Problem):
    """The LaTeX question of each derivative asked (-1: the whole Jacobian),
    as the key's left-hand sides name them."""
    ex = problem.exercise

    def asked(target: int, at) -> str:
        if target < 0:
            return r"J\big|_{%s}" % _where(at) if at else "J"
        if target < len(stages):  # an earlier stage of a higher derivative: f' before f''
            by = stages[target][1]
            return question_at(ex, by[-1], at, None, by) if at else question(ex, by[-1], None, by)
        target -= len(stages)
        name, _, w = ex.targets[target]
        name = name if ex.components else None
        by = ex.orders[target] if not ex.components else ()
        return question_at(ex, w, at, name, by) if at else question(ex, w, name, by)

    stages = problem.stages
    return asked


def _answers(narration: Narration, asked) -> list[str]:
    """The final answers the key boxes, each as rows of inline math (for tables)."""
    out = []
    for line in narration.lines:
        if line.final:
            out += answer_rows(line, asked)
    return out


def _worked_questions(problem: Problem) -> str:
    """What a worked problem asks (z_1, h_1, L, dL/dw_11, ...), and the
    decimal places its values are given to where the sheet asks for them."""
    worked = problem.exercise.worked
    places = r" \text{ (every value to %d decimal places)}" % problem.decimals if problem.decimals and any(
        row_approximation(row, problem.decimals) for row in worked.rows) else ""
    return r", \allowbreak ".join(tex(a) for a in worked.asked) + places


def problem_context(problem: Problem, level: str = DEFAULT_POLICY) -> dict:
    ex = problem.exercise
    asked = _asker(problem)
    narration = problem.key(level)
    return {
        "number": problem.number,
        "points": problem.points,
        "level": problem.level,
        "topic": ex.topic,
        "steps": problem.steps,
        "prompt": prompt(ex),
        # The function starts a line of its own when it would not fit beside the heading.
        "prompt_break": width(prompt(ex)) + width(ex.note) + HEADING_WIDTH > ROW,
        "domain": ex.statement,
        "note": ex.note,
        "questions": _questions(ex, problem) if ex.worked is None else _worked_questions(problem),
        "blocks": latex_blocks(narration, asked) if level != "answers" else [],
        "answers": _answers(narration, asked),
        **choices_context(problem),
    }


def sheet_context(sheet: Sheet) -> dict:
    o = sheet.options
    level = o.key_level
    used: dict[str, None] = {}
    for problem in sheet.problems:
        for name in problem.rules_used:
            used.setdefault(name, None)
    rules = [RULES[name] for name in RULES if name in used]
    problems = [problem_context(p, level) for p in sheet.problems]
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
        "key": level,
        "student": {"id": o.student, "name": o.student_name} if o.student else None,
        "problems": problems,
        "rules": [{"title": r.title, "function": r.function, "derivative": r.derivative} for r in rules],
        # The handout: working space per problem, the points in all, the rule table for students.
        "space": o.space,
        "total_points": sum(p.points for p in sheet.problems),
        "rules_table": o.rules_table,
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
    """The instructor's key of every version, at the sheets' key level: the
    final answers of each version (problem numbers aligned), or every
    version's worked or full solutions."""
    env = env or make_environment()
    first = sheet_context(sheets[0])
    versions = [{"letter": sheet.version, "problems": sheet_context(sheet)["problems"]} for sheet in sheets]
    return render_template(env, "answer_key.tex.j2", {**first, "version_letter": "", "versions": versions})


def _d(wrt: sp.Symbol, partial: bool) -> str:
    if partial:
        return r"\frac{\partial}{\partial %s}" % tex(wrt)
    return r"\frac{d}{d%s}" % tex(wrt)


def step_json(step: Step, partial: bool = False, bound: frozenset = frozenset()) -> dict:
    """One node and its substeps (sheet.json `steps`). With several variables
    the problem's derivatives are partial; a chain rule's own variable u
    (`bound` below its node) is a one-variable outer function, so d/du
    stays ordinary."""
    inner_bound = bound | {symbol for symbol, _ in step.bindings} if step.rule == "chain" else bound
    paths = len(step.bindings) if step.rule == "multivariable_chain" else 0
    return {
        "rule": step.rule,
        "wrt": step.wrt.name,
        "expr": plain(step.expr),
        "result": plain(step.result),
        "latex": r"%s\left[%s\right] = %s" % (_d(step.wrt, partial and step.wrt not in bound),
                                              tex(step.expr), tex(step.result)),
        "substeps": [step_json(s, partial or position < paths, inner_bound)
                     for position, s in enumerate(step.substeps)],
    }


def worked_json(p: Problem, narration: Narration) -> list[dict]:
    """A worked key's rows as printed at its level: what each states, its
    forms (LaTeX), its exact value (a check string), its value to the
    sheet's decimal places."""
    rows = [row for _, section in p.exercise.worked.sections for row in section]
    if narration.policy == "answers":
        rows = [row for row in rows if row.role == "gradient"]
    lines = [line for line in narration.lines if line.name is not None]  # not the sections' titles
    out = []
    for row, line in zip(rows, lines):
        entry = {"role": row.role, "text": line.label, "latex": latex_equation(line),
                 "value": plain_as_built(row.value)}
        if row.name is not None:
            entry["name"] = row.name.name
        if line.approx:
            entry["approx"] = list(line.approx) if isinstance(row.value, sp.MatrixBase) else line.approx[0]
        out.append(entry)
    return out


def _worked_lines(p: Problem, level: str) -> list[dict]:
    """sheet.json `lines` of a worked problem: per derivative asked, its
    answer as a line a checker confirms without exgen (the derivative of the
    check's function, at the given point where there is one). The rows that
    lead to it are in `worked`."""
    check = p.check
    answers = check["answer"] if isinstance(check["answer"], list) else [check["answer"]]
    wrts = check["wrt"] if isinstance(check["wrt"], list) else [check["wrt"]]
    finals = [line for line in p.key(level).lines if line.final]
    lines = []
    for w, answer in zip(wrts, answers):
        # The boxed line that answers it: dL/dw's own, or the one gradient of every w_k.
        said = [line for line in finals if isinstance(line.name, Partial) and line.name.args[1].name == w]
        said = said or (finals if len(finals) == 1 else [])
        line = {"rule": "answer", "text": said[0].label if said else "",
                "latex": latex_equation(said[0]) if said else "", "of": check["expr"], "wrt": w, "forms": [answer]}
        if "at" in check:
            line["at"] = check["at"]
        lines.append([line])
    return lines


def _problem_head(p: Problem) -> dict:
    """What every problem's sheet.json entry starts with, worked or derived."""
    return {
        "number": p.number,
        **({"section": p.section} if p.section else {}),
        "topic": p.exercise.topic,
        "rules": list(p.rules_used),
        "difficulty": {"level": p.level, "steps": p.steps},
        "domain": p.exercise.statement or "all real numbers",
        "prompt_latex": prompt(p.exercise),
    }


def problem_json(p: Problem, level: str = DEFAULT_POLICY) -> dict:
    single = len(p.exercise.wrt) == 1 and not p.exercise.components
    if p.exercise.worked is not None:
        narration = p.key(level)
        # The answers as the answers-only key states them: standing alone (a
        # worked key's last line may name an earlier value, o or delta).
        answers = [tex(line.forms[-1]) if line.forms else latex_equation(line)
                   for line in p.key("answers").lines if line.final]
        trees = [step_json(d, len(p.exercise.variables) > 1) for d in p.derivations]
        lines = _worked_lines(p, level)
        return {
            **_problem_head(p),
            "answer_latex": answers[0] if len(answers) == 1 else answers,
            "check": p.check,
            "key": level,
            "lines": lines[0] if single else lines,
            "worked": worked_json(p, narration),
            "steps": trees[0] if single else trees,
            **({"choices": choices_json(p)} if p.choices else {}),
        }
    answers = [tex(a) for a in (p.values or p.answers)]
    trees = [step_json(d, len(p.exercise.variables) > 1) for d in p.derivations]
    # A higher derivative: `steps` is each derivative's last stage (d/dx of the
    # tidied f'), `earlier_steps` the stages before it, in order; its key's
    # `lines` tell the earlier stages first.
    earlier = [[step_json(s, len(p.exercise.variables) > 1) for s in stages] for stages in p.earlier]
    narration, asked = p.key(level), _asker(p)
    lines = [json_lines(narration, target, asked) for target in range(len(p.stages) + len(p.derivations))]
    lines = [[line for stage in lines[:len(p.stages)] for line in stage] + target
             for target in lines[len(p.stages):]] if p.stages else lines
    return {
        **_problem_head(p),
        "answer_latex": (matrix_latex(answers, len(p.exercise.wrt))
                         if p.exercise.components or (p.exercise.order > 1 and not single)
                         else answers[0] if single else answers),
        "check": p.check,
        "key": level,
        "lines": lines[0] if single else lines,
        "steps": trees[0] if single else trees,
        **({"earlier_steps": earlier[0] if single else earlier} if earlier else {}),
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
    document["problems"] = [problem_json(p, o.key_level) for p in sheet.problems]
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


# -- multiple choice (exgen/choices.py) ------------------------------------

# Options whose longest prints in at most this many visible characters share
# a row (a grid of up to three columns); longer ones get a line each.
SHORT_CHOICE, MEDIUM_CHOICE = 16, 34


def choice_latex(problem: Problem, answers) -> str:
    """An option printed as the right answer is: one expression, a vector of
    derivatives, or a matrix (a Jacobian or Hessian)."""
    ex = problem.exercise
    shown = choice_decimals(answers, problem.decimals) if ex.worked is not None else None
    if shown is not None:  # a worked problem's values, to the places the student works them out to
        return shown[0] if len(shown) == 1 else r"\left(%s\right)" % ", ".join(shown)
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
    longest = max(width(o["latex"]) for o in options)
    columns = 3 if longest <= SHORT_CHOICE else 2 if longest <= MEDIUM_CHOICE else 1
    columns = min(columns, len(options))
    share = "%.2f" % (0.96 / columns)  # nothing shrunk: a long option gets a line of its own
    rows = [options[k:k + columns] for k in range(0, len(options), columns)]
    return {"choices": rows, "choice_width": share,
            "answer_letter": next(c.label for c in problem.choices if c.correct)}
