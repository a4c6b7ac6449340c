"""The rule tables of the course documents, as data.

Each `Rule` is one row of the user's guidebook (Table 1, sections 2-4) or
cheat-sheet (section 1.1, section 2), with its formula as the documents print
it. The step engine (`steps.py`) names these rules in every derivation node;
the guidebook prints the rows a sheet uses as its opening table.

To add a rule: `register(Rule(...))` here (or in a module imported by
`exgen.steps`), then teach the engine to apply it with `@handles` in
`steps.py`. Registering a name twice is an error, so two modules cannot
silently disagree about a rule.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    """One rule-table row: d/dx of `function` is `derivative` (LaTeX)."""

    name: str
    title: str
    function: str
    derivative: str
    counted: bool = True  # a rule application a student performs (difficulty)


RULES: dict[str, Rule] = {}


def register(rule: Rule) -> Rule:
    if rule.name in RULES:
        raise ValueError(f"rule {rule.name!r} registered twice")
    RULES[rule.name] = rule
    return rule


def rule(name: str) -> Rule:
    return RULES[name]


for _rule in (
    Rule("constant", "Constant rule", "k", "0"),
    Rule("identity", "Identity rule", "x", "1"),
    Rule("linear", "Linear rule", "kx", "k"),
    Rule("constant_multiple", "Constant multiple rule", "kf", r"k f'"),
    Rule("sum", "Sum rule", "f + g", "f' + g'"),
    Rule("difference", "Difference rule", "f - g", "f' - g'"),
    Rule("product", "Product rule", "f g", "f g' + g f'"),
    Rule("quotient", "Quotient rule", r"\frac{f}{g}", r"\frac{g f' - f g'}{g^{2}}"),
    Rule("power", "Power rule", "x^{n}", "n x^{n-1}"),
    Rule("chain", "Chain rule", "f(g(x))", "f'(g(x)) \\, g'(x)"),
    Rule("exp", "Exponential rule", "e^{x}", "e^{x}"),
    Rule("exponential", "Exponential rule, base a", "a^{x}", r"a^{x} \ln a"),
    Rule("ln", "Natural logarithm rule", r"\ln x", r"\frac{1}{x}"),
    Rule("log_k", "Logarithm rule, base k", r"\log_{k} x", r"\frac{1}{x \ln k}"),
    Rule("sin", "Sine rule", r"\sin x", r"\cos x"),
    Rule("cos", "Cosine rule", r"\cos x", r"-\sin x"),
    Rule("tanh", "tanh rule", r"\tanh x", r"1 - \tanh^{2} x"),
    Rule("sigmoid", "Sigmoid rule", r"\sigma(x) = \frac{1}{1+e^{-x}}", r"\sigma(x)\left(1 - \sigma(x)\right)"),
    Rule("relu", "ReLU rule", r"\operatorname{ReLU}(x) = \max(0, x)",
         r"\begin{cases} 1, & x > 0 \\ 0, & x \leq 0 \end{cases}"),
    Rule("log_differentiation", "Logarithmic differentiation", "f^{g}",
         r"f^{g} \left(g' \ln f + \frac{g f'}{f}\right)"),
    Rule("multivariable_chain", "Multivariable chain rule", r"z = f(x(t), y(t))",
         r"\frac{dz}{dt} = \frac{\partial f}{\partial x} \frac{dx}{dt} + \frac{\partial f}{\partial y} \frac{dy}{dt}"),
    Rule("softmax", "Softmax rule", r"\sigma(z_i) = \frac{e^{z_i}}{\sum_{j=1}^{K} e^{z_j}}",
         r"\frac{\partial \sigma(z_i)}{\partial z_j} = \sigma(z_i)\left(\delta_{ij} - \sigma(z_j)\right)"),
    Rule("function", "Derivative of an arbitrary function", "f(x)", "f'(x)"),
    Rule("first_principles", "Definition of the derivative", "f(x)",
         r"\lim_{h \to 0} \frac{f(x+h) - f(x)}{h}"),
    Rule("simplify", "Simplify", "", "", counted=False),
):
    register(_rule)
