"""canvas-qti.zip: the bank as QTI 1.2, as Canvas imports it for classic
quizzes and New Quizzes (`--export canvas`).

One assessment per version (one for a single sheet), each problem slot a
section that draws one of its variants (`selection_number` 1), each problem
a `multiple_choice_question` (its checked options, the mistake's feedback on
each wrong one) or, for one value at a point, a `numerical_question`
(accepted within a tolerance). `imsmanifest.xml` names every assessment file.

Written with xml.etree and zipfile (stdlib). text2qti (PyPI) writes this
format too, but from its own Markdown-like text, with the day's date in its
manifest and the clock's time on its zip entries; exgen prints its model
directly and fixes every date, order and permission, so the same options
give the same bytes.
"""

import io
import xml.etree.ElementTree as ET
import zipfile

from ..registry import to_elementary
from . import Bank, Writer, register
from .html import answer_html, question_html, worked_html
from .moodle import numerical_value

QTI = "http://www.imsglobal.org/xsd/ims_qtiasiv1p2"
MANIFEST = "http://www.imsglobal.org/xsd/imsccv1p1/imscp_v1p1"
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def _metadata(item, fields) -> None:
    meta = ET.SubElement(ET.SubElement(item, "itemmetadata"), "qtimetadata")
    for label, entry in fields:
        field = ET.SubElement(meta, "qtimetadatafield")
        ET.SubElement(field, "fieldlabel").text = label
        ET.SubElement(field, "fieldentry").text = entry


def _material(parent, html_text: str) -> None:
    ET.SubElement(ET.SubElement(parent, "material"), "mattext", texttype="text/html").text = html_text


def _feedback(item, ident: str, html_text: str) -> None:
    feedback = ET.SubElement(item, "itemfeedback", ident=ident)
    _material(ET.SubElement(feedback, "flow_mat"), html_text)


def _condition(processing, respident, tests, score=None, feedback=None, go_on=True):
    condition = ET.SubElement(processing, "respcondition", {"continue": "Yes" if go_on else "No"})
    variables = ET.SubElement(condition, "conditionvar")
    for tag, value in tests:
        if tag == "other":
            ET.SubElement(variables, "other")
        else:
            ET.SubElement(variables, tag, respident=respident).text = value
    if score is not None:
        ET.SubElement(condition, "setvar", action="Set", varname="SCORE").text = score
    if feedback is not None:
        ET.SubElement(condition, "displayfeedback", feedbacktype="Response", linkrefid=feedback)


def _processing(item):
    processing = ET.SubElement(item, "resprocessing")
    ET.SubElement(ET.SubElement(processing, "outcomes"), "decvar", maxvalue="100", minvalue="0",
                  varname="SCORE", vartype="Decimal")
    return processing


def multiple_choice_item(section, ident: str, title: str, problem) -> None:
    from ..render import choice_latex

    item = ET.SubElement(section, "item", ident=ident, title=title)
    answers = [f"{ident}_{c.label}" for c in problem.choices]
    _metadata(item, (("question_type", "multiple_choice_question"), ("points_possible", "1.0"),
                     ("original_answer_ids", ",".join(answers))))
    presentation = ET.SubElement(item, "presentation")
    _material(presentation, question_html(problem))
    response = ET.SubElement(presentation, "response_lid", ident="response1", rcardinality="Single")
    render = ET.SubElement(response, "render_choice")
    for choice, answer in zip(problem.choices, answers):
        label = ET.SubElement(render, "response_label", ident=answer)
        _material(label, answer_html(choice_latex(problem, choice.answers)))
    processing = _processing(item)
    _condition(processing, "response1", [("other", "")], feedback="general_fb")
    for choice, answer in zip(problem.choices, answers):
        if not choice.correct:
            _condition(processing, "response1", [("varequal", answer)], feedback=f"{answer}_fb")
    right = next(a for c, a in zip(problem.choices, answers) if c.correct)
    _condition(processing, "response1", [("varequal", right)], score="100", go_on=False)
    _feedback(item, "general_fb", worked_html(problem))
    for choice, answer in zip(problem.choices, answers):
        if not choice.correct:
            _feedback(item, f"{answer}_fb", "<p>This is what you get if %s.</p>" % _escape(choice.words))


def numerical_item(section, ident: str, title: str, problem) -> None:
    value, tolerance = numerical_value(to_elementary(problem.values[0]))
    low, high = float(value) - float(tolerance), float(value) + float(tolerance)
    item = ET.SubElement(section, "item", ident=ident, title=title)
    _metadata(item, (("question_type", "numerical_question"), ("points_possible", "1.0")))
    presentation = ET.SubElement(item, "presentation")
    _material(presentation, question_html(problem, " Give the value as a decimal (to within %s)." % tolerance))
    response = ET.SubElement(presentation, "response_str", ident="response1", rcardinality="Single")
    ET.SubElement(ET.SubElement(response, "render_fib", fibtype="Decimal"), "response_label", ident="answer1")
    processing = _processing(item)
    _condition(processing, "response1", [("other", "")], feedback="general_fb")
    _condition(processing, "response1", [("vargte", format(low, ".12g")), ("varlte", format(high, ".12g"))],
               score="100", go_on=False)
    _feedback(item, "general_fb", worked_html(problem))


def _escape(text: str) -> str:
    import html

    return html.escape(text, quote=False)


def assessment_xml(bank: Bank, v: int, ident: str, title: str) -> bytes:
    root = ET.Element("questestinterop", xmlns=QTI)
    assessment = ET.SubElement(root, "assessment", ident=ident, title=title)
    root_section = ET.SubElement(assessment, "section", ident="root_section")
    letter = bank.letters[v] or "A"
    for slot in bank.slots(v):
        number = slot[0].number
        group = ET.SubElement(root_section, "section", ident=f"{ident}_p{number:02d}", title=f"Problem {number}")
        selection = ET.SubElement(ET.SubElement(group, "selection_ordering"), "selection")
        ET.SubElement(selection, "selection_number").text = "1"
        ET.SubElement(ET.SubElement(selection, "selection_extension"), "points_per_item").text = "1.0"
        for j, problem in enumerate(slot, 1):
            item_ident = f"{ident}_p{number:02d}_v{j}"
            item_title = f"{bank.options.code}-{letter} problem {number}, variant {j}"
            if problem.values and len(problem.values) == 1:
                numerical_item(group, item_ident, item_title, problem)
            else:
                multiple_choice_item(group, item_ident, item_title, problem)
    ET.indent(root)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode").encode("utf-8") + b"\n"


def manifest_xml(bank: Bank, idents) -> bytes:
    root = ET.Element("manifest", identifier=f"exgen_{bank.options.code}_manifest", xmlns=MANIFEST)
    metadata = ET.SubElement(root, "metadata")
    ET.SubElement(metadata, "schema").text = "IMS Content"
    ET.SubElement(metadata, "schemaversion").text = "1.1.3"
    ET.SubElement(root, "organizations")
    resources = ET.SubElement(root, "resources")
    for ident in idents:
        resource = ET.SubElement(resources, "resource", identifier=ident, type="imsqti_xmlv1p2")
        ET.SubElement(resource, "file", href=f"{ident}/{ident}.xml")
    ET.indent(root)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode").encode("utf-8") + b"\n"


def canvas_zip(bank: Bank) -> bytes:
    entries = []
    idents = []
    for v, letter in enumerate(bank.letters):
        ident = f"exgen_{bank.options.code}" + (f"_{letter}" if letter else "")
        title = bank.options.title + (f" (version {letter})" if letter else "")
        idents.append(ident)
        entries.append((f"{ident}/{ident}.xml", assessment_xml(bank, v, ident, title)))
    entries.insert(0, ("imsmanifest.xml", manifest_xml(bank, idents)))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


register(Writer("canvas", ("canvas-qti.zip",), lambda bank: {"canvas-qti.zip": canvas_zip(bank)}))
