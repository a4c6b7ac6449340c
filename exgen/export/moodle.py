"""moodle.xml: the bank as Moodle XML (`--export moodle`).

Two top categories, each with a category per version (and, with
--variants, per problem slot, so a quiz's "random question from category"
draws one variant per slot):

- "STACK": each problem with one derivative asked as a STACK question: the
  function fixed in `questionvariables` (no rand(), so nothing to deploy),
  an algebraic input `ans1`, and a potential response tree `prt1` whose first
  node tests the answer (AlgEquiv against `ta`, exgen's checked answer) and
  whose further nodes recognise each wrong option's mistake (score 0, its
  feedback); every node states `falsescore` 0 (STACK's importer defaults it
  to 1). `<qtest>` cases: the answer scores 1, each mistake 0 with its note.
  The worked solution is the general feedback. A problem whose answer is a
  value at a point is a numerical question; a problem asking for several
  derivatives, or whose answer has no faithful Maxima form (a piecewise
  derivative, an arbitrary f(x)), is left to the second category.
- "Multiple choice": every problem as a multichoice question (one right
  answer, shuffled, the mistakes' feedback on each wrong option).

Math is `\\( ... \\)` in HTML. Written with xml.etree (stdlib; every text
escaped by the library, no template to keep in step with the format).
"""

import sympy as sp
import xml.etree.ElementTree as ET

from ..registry import CourseFunction
from . import Bank, Writer, register
from .html import answer_html, math, question_html, worked_html
from .maxima import NotMaxima, maxima

PENALTY = "0.1"
# A numerical answer is accepted within this share of its size (at least this much).
TOLERANCE = 0.001


def _text(parent, tag: str, text: str = "", **attributes) -> ET.Element:
    element = ET.SubElement(parent, tag, attributes)
    ET.SubElement(element, "text").text = text
    return element


def _field(parent, tag: str, text) -> ET.Element:
    element = ET.SubElement(parent, tag)
    element.text = str(text)
    return element


def _category(quiz, path: str) -> None:
    question = ET.SubElement(quiz, "question", type="category")
    _text(question, "category", f"$course$/top/{path}")


def _header(question, name: str, text: str, feedback: str, penalty: str) -> None:
    _text(question, "name", name)
    _text(question, "questiontext", text, format="html")
    _text(question, "generalfeedback", feedback, format="html")
    _field(question, "defaultgrade", "1")
    _field(question, "penalty", penalty)
    _field(question, "hidden", "0")


def stack_variables(problem):
    """(variable, f, ta, [(mistake id, words, m)]) in Maxima, or None where
    the problem is not one STACK question with a symbolic answer. The
    answer is the derivative of order `problem.exercise.order` by the variable."""
    ex = problem.exercise
    if problem.values or len(problem.answers) != 1:
        return None
    try:
        f = maxima(ex.expr)
        ta = maxima(problem.answer)
        wrong = [(c.mistake, c.words, maxima(c.answers[0])) for c in problem.choices if not c.correct]
    except NotMaxima:
        return None
    return ex.wrt[0].name, f, ta, wrong


def _hint(problem) -> str:
    """How to type the course's own functions, where the problem has them."""
    if not any(isinstance(a, CourseFunction) for a in sp.preorder_traversal(problem.exercise.expr)):
        return ""
    return (" Type the functions in their elementary forms: %s as 1/(1+exp(-u)), %s as log(u)/log(k), "
            "%s as sqrt(u)." % (math(r"\sigma(u)"), math(r"\log_{k} u"), math(r"\sqrt{u}")))


def stack_question(quiz, name: str, problem) -> bool:
    found = stack_variables(problem)
    if found is None:
        return False
    variable, f, ta, wrong = found
    question = ET.SubElement(quiz, "question", type="stack")
    _header(question, name, question_html(problem, _hint(problem)) + "<p>[[input:ans1]] [[validation:ans1]]</p>",
            worked_html(problem), PENALTY)
    _text(question, "stackversion", "")
    lines = [f"v: {variable};", f"n: {problem.exercise.order};", f"f: {f};", f"ta: {ta};"]
    lines += [f"m{k}: {m};" for k, (_, _, m) in enumerate(wrong, 1)]
    _text(question, "questionvariables", "\n".join(lines))
    _text(question, "specificfeedback", "[[feedback:prt1]]", format="html")
    order = problem.exercise.order
    power = "" if order == 1 else "^{%d}" % order
    _text(question, "questionnote", math(r"\frac{d%s}{d%s%s} \left(%s\right)" % (power, variable, power,
                                                                             problem_tex(problem))), format="html")
    for tag, value in (("questionsimplify", 1), ("assumepositive", 0), ("assumereal", 0),
                       ("multiplicationsign", "dot"), ("sqrtsign", 1), ("complexno", "i"),
                       ("inversetrig", "cos-1"), ("logicsymbol", "lang"), ("matrixparens", "[")):
        _field(question, tag, value)
    _text(question, "prtcorrect", "Correct answer, well done.", format="html")
    _text(question, "prtpartiallycorrect", "Your answer is partially correct.", format="html")
    _text(question, "prtincorrect", "Incorrect answer.", format="html")
    _field(question, "variantsselectionseed", "")
    ans = ET.SubElement(question, "input")
    for tag, value in (("name", "ans1"), ("type", "algebraic"), ("tans", "ta"), ("boxsize", 40),
                       ("strictsyntax", 1), ("insertstars", 0), ("syntaxhint", ""), ("syntaxattribute", 0),
                       ("forbidwords", "diff"), ("allowwords", ""), ("forbidfloat", 1),
                       ("requirelowestterms", 0), ("checkanswertype", 0), ("mustverify", 1),
                       ("showvalidation", 1), ("options", "")):
        _field(ans, tag, value)
    prt = ET.SubElement(question, "prt")
    for tag, value in (("name", "prt1"), ("value", "1.0000000"), ("autosimplify", 1), ("feedbackstyle", 1)):
        _field(prt, tag, value)
    _text(prt, "feedbackvariables", "")
    tests = [("ta", "1", "prt1-0-T")]
    targets = [("ta", "1", "")] + [(f"m{k}", "0", words) for k, (_, words, _) in enumerate(wrong, 1)]
    for k, (tans, score, words) in enumerate(targets):
        last = k == len(targets) - 1
        node = ET.SubElement(prt, "node")
        for tag, value in (("name", k), ("description", "the answer" if k == 0 else wrong[k - 1][0]),
                           ("answertest", "AlgEquiv"), ("sans", "ans1"), ("tans", tans), ("testoptions", ""),
                           ("quiet", 0), ("truescoremode", "="), ("truescore", score), ("truepenalty", ""),
                           ("truenextnode", -1), ("trueanswernote", f"prt1-{k}-T")):
            _field(node, tag, value)
        _text(node, "truefeedback", "" if k == 0 else "<p>It looks as if %s.</p>" % _escape(words), format="html")
        for tag, value in (("falsescoremode", "="), ("falsescore", "0"), ("falsepenalty", ""),
                           ("falsenextnode", -1 if last else k + 1), ("falseanswernote", f"prt1-{k}-F")):
            _field(node, tag, value)
        _text(node, "falsefeedback", "", format="html")
        if k:
            tests.append((tans, "0", f"prt1-{k}-T"))
    for number, (value, score, note) in enumerate(tests, 1):
        qtest = ET.SubElement(question, "qtest")
        _field(qtest, "testcase", number)
        _text(qtest, "description", "the right answer" if number == 1 else wrong[number - 2][0])
        testinput = ET.SubElement(qtest, "testinput")
        _field(testinput, "name", "ans1")
        _field(testinput, "value", value)
        expected = ET.SubElement(qtest, "expected")
        _field(expected, "name", "prt1")
        _field(expected, "expectedscore", "1.0000000" if score == "1" else "0.0000000")
        _field(expected, "expectedpenalty", "0.0000000" if score == "1" else PENALTY)
        _field(expected, "expectedanswernote", note)
    return True


def _escape(text: str) -> str:
    import html

    return html.escape(text, quote=False)


def problem_tex(problem) -> str:
    from ..forms import tex

    return tex(problem.exercise.expr)


def numerical_value(value: sp.Expr) -> tuple[str, str]:
    """An exact value as a decimal (12 significant digits) and its tolerance."""
    number = sp.N(value, 30)
    decimal = sp.Float(number, 12)
    tolerance = TOLERANCE * max(1.0, abs(float(number)))
    return "%s" % format(float(decimal), ".12g"), format(tolerance, ".6g")


def numerical_question(quiz, name: str, problem) -> bool:
    if not problem.values or len(problem.values) != 1:
        return False
    from ..registry import to_elementary

    value, tolerance = numerical_value(to_elementary(problem.values[0]))
    question = ET.SubElement(quiz, "question", type="numerical")
    extra = " Give the value as a decimal (to within %s)." % tolerance
    _header(question, name, question_html(problem, extra), worked_html(problem), "0.3333333")
    answer = ET.SubElement(question, "answer", fraction="100", format="moodle_auto_format")
    ET.SubElement(answer, "text").text = value
    _text(answer, "feedback", "", format="html")
    _field(answer, "tolerance", tolerance)
    for tag, text in (("unitgradingtype", 0), ("unitpenalty", "0.1000000"), ("showunits", 3), ("unitsleft", 0)):
        _field(question, tag, text)
    return True


def multichoice_question(quiz, name: str, problem) -> None:
    from ..render import choice_latex

    question = ET.SubElement(quiz, "question", type="multichoice")
    _header(question, name, question_html(problem), worked_html(problem), "0.3333333")
    _field(question, "single", "true")
    _field(question, "shuffleanswers", "true")
    _field(question, "answernumbering", "abc")
    _text(question, "correctfeedback", "Correct.", format="html")
    _text(question, "partiallycorrectfeedback", "", format="html")
    _text(question, "incorrectfeedback", "Incorrect.", format="html")
    for choice in problem.choices:
        answer = _text(question, "answer", answer_html(choice_latex(problem, choice.answers)),
                       fraction="100" if choice.correct else "0", format="html")
        _text(answer, "feedback", "" if choice.correct else "<p>This is what you get if %s.</p>"
              % _escape(choice.words), format="html")


def question_name(bank: Bank, letter: str, number: int, variant: int) -> str:
    return f"{bank.options.code}-{letter or 'A'}-P{number:02d}" + (f"-v{variant}" if bank.options.variants > 1 else "")


def moodle_xml(bank: Bank) -> bytes:
    quiz = ET.Element("quiz")
    top = f"exgen {bank.options.code}"
    for kind in ("STACK", "Multiple choice"):
        for v, letter in enumerate(bank.letters):
            where = f"{top}/{kind}" + (f"/Version {letter}" if letter else "")
            if bank.options.variants == 1:
                _category(quiz, where)
            for slot in bank.slots(v):
                if bank.options.variants > 1:
                    _category(quiz, f"{where}/Problem {slot[0].number:02d}")
                for j, problem in enumerate(slot, 1):
                    name = question_name(bank, letter, problem.number, j)
                    if kind == "STACK":
                        stack_question(quiz, name, problem) or numerical_question(quiz, name, problem)
                    else:
                        multichoice_question(quiz, name, problem)
    ET.indent(quiz)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(quiz, encoding="unicode").encode("utf-8") + b"\n"


register(Writer("moodle", ("moodle.xml",), lambda bank: {"moodle.xml": moodle_xml(bank)}))
