"""Backpropagation by hand through a tiny network (topic `backprop`).

The exercise every ML course hands out after the chain rule: a network with
integer or one-decimal weights, an input and a target; the student computes
the forward pass (every z and activation), the loss, and the gradient of the
loss with respect to some weights and biases.

- easy: one neuron, z = w x + b (one or two inputs), y_hat = sigma(z),
  tanh(z) or ReLU(z), squared error (or cross-entropy after a sigmoid);
- medium: a hidden layer of one or two units, then one output unit
  (sigmoid, or linear with squared error);
- hard: a 2-2-1 network with a sigmoid output and cross-entropy, or 2-2-2
  with softmax and cross-entropy.

A `Network` holds the numbers; `_Backprop` builds from it, all exactly
(SymPy rationals, sigma(1.3) kept as it is):

- the derivation tree of each gradient asked, node by node as the backward
  pass goes (dL/dw = dL/dz * dz/dw; dL/dz at a hidden unit through its
  activation and every unit it feeds; the course's identities, squared
  error, sigmoid with cross-entropy, softmax with cross-entropy, as single
  steps of `rules/losses.py`), in the weights as variables, so the oracle
  checks every node at random weights;
- the key as a `worked.Worked`: the forward values (each also evaluated
  directly from the data), then per unit delta = dL/dz and each asked
  dL/dw = delta * input (each checked against the numeric derivative of the
  loss), with exact values where they stay readable and otherwise in terms
  of the named forward values.
"""

import functools
import math
import random
from dataclasses import dataclass

import sympy as sp

from .. import built
from ..compose import Domain, Draft
from ..forms import tex, visible_length
from ..registry import RULES
from ..rules.activations import ReLU, sigmoid
from ..rules.losses import (binary_cross_entropy, cross_entropy, sigmoid_cross_entropy_step,
                            softmax_cross_entropy_step, squared_error, squared_error_step, weighted_sum_step)
from ..rules.vectors import softmax
from ..seeding import pick
from ..steps import Step
from ..worked import Dot, InOrder, Number, Partial, Product, Ratio, Row, Shown, Worked, number, shown
from . import topic as _register

topic = functools.partial(_register, family="ml")


def _numbers(*texts: str) -> tuple[sp.Rational, ...]:
    return tuple(sp.Rational(t) for t in texts)


# Integers and one-decimal numbers, as a hand exercise has them.
WEIGHTS = _numbers("-2", "-1.5", "-1", "-0.5", "-0.4", "-0.3", "-0.2", "0.2", "0.3", "0.4", "0.5", "1", "1.5", "2")
BIASES = _numbers("-1", "-0.5", "-0.2", "0.1", "0.2", "0.5", "1")
INPUTS = _numbers("-2", "-1", "-0.5", "0.5", "1", "1.5", "2", "3")
# Pre-activations stay in the unsaturated part of sigma and tanh, and never at ReLU's kink.
LARGEST_INPUT_TO_UNIT = 3

ACTIVATIONS = {"sigmoid": sigmoid, "tanh": sp.tanh, "relu": ReLU, "identity": lambda u: u}


@dataclass(frozen=True)
class Layer:
    """weights[j][k]: unit j's weight on the layer's input k."""

    weights: tuple[tuple[sp.Rational, ...], ...]
    biases: tuple[sp.Rational, ...]
    activation: str  # sigmoid, tanh, relu, identity or softmax

    @property
    def units(self) -> int:
        return len(self.biases)


@dataclass(frozen=True)
class Network:
    inputs: tuple[sp.Rational, ...]
    targets: tuple[sp.Rational, ...]
    layers: tuple[Layer, ...]
    loss: str  # "squared" or "cross-entropy"


@dataclass(frozen=True)
class Names:
    """The symbols of one layer: weights[j][k], biases[j], pre-activations
    z_j, activations, and each unit's delta = dL/dz_j."""

    weights: tuple[tuple[sp.Symbol, ...], ...]
    biases: tuple[sp.Symbol, ...]
    pre: tuple[sp.Symbol, ...]
    post: tuple[sp.Symbol, ...]
    deltas: tuple[sp.Symbol, ...]


def _symbol(name: str) -> sp.Symbol:
    return sp.Symbol(name, real=True)


def _indexed(stem: str, count: int) -> tuple[sp.Symbol, ...]:
    return (_symbol(stem),) if count == 1 else tuple(_symbol(f"{stem}{i}") for i in range(1, count + 1))


def _layer_names(letters: tuple[str, str, str, str], units: int, inputs: int) -> Names:
    weight, bias, pre, post = letters
    if units == 1:
        weights = (_indexed(weight, inputs),)
    elif inputs == 1:
        weights = tuple((s,) for s in _indexed(weight, units))
    else:
        weights = tuple(tuple(_symbol(f"{weight}{j}{k}") for k in range(1, inputs + 1)) for j in range(1, units + 1))
    pres = _indexed(pre, units)
    return Names(weights, _indexed(bias, units), pres, _indexed(post, units),
                 tuple(_symbol(f"delta_{z.name}") for z in pres))


def names_of(network: Network) -> tuple[Names, ...]:
    """One neuron: w, b, z, y_hat. Two layers: w, b, z, h (hidden) and v, c, o, y_hat (output)."""
    letters = (("w", "b", "z", "yhat"),) if len(network.layers) == 1 else (("w", "b", "z", "h"), ("v", "c", "o", "yhat"))
    out, inputs = [], len(network.inputs)
    for layer, chosen in zip(network.layers, letters):
        out.append(_layer_names(chosen, layer.units, inputs))
        inputs = layer.units
    return tuple(out)


def _put(form: sp.Basic, values: dict) -> sp.Basic:
    """`form` with the named values put in where a name stands alone or as an
    argument of a display head (a factor of a dotted product, a term written out)."""
    if form in values:
        return values[form]
    if isinstance(form, Shown):
        return form.func(*(_put(a, values) for a in form.args))
    return form


def _weighted(weights, inputs, bias) -> sp.Expr:
    """w_1 a_1 + ... + w_n a_n + b, as written."""
    return built.total([built.product((w, a)) for w, a in zip(weights, inputs)] + [bias])


def _activation(name: str, z: sp.Expr) -> sp.Expr:
    return z if name == "identity" else ACTIVATIONS[name](z, evaluate=False)


def _dotted_numbers(form: sp.Basic) -> sp.Basic:
    """Products written side by side (v h) take dots once numbers are in them: 2 \\cdot sigma(1.1)."""
    return form.replace(lambda e: isinstance(e, Product) and any(_numeric(a) for a in e.args[1:]),
                        lambda e: Dot(*e.args))


def _numeric(factor) -> bool:
    return factor.is_number or isinstance(factor, Number) or (factor.could_extract_minus_sign()
                                                              and isinstance(-factor, Number))


def _plug(expr, values: dict):
    """A form with the numbers and named values put in: its value, built as
    written (`built`); ReLU of a number evaluated."""
    if isinstance(expr, sp.Symbol):
        return values.get(expr, expr)
    if isinstance(expr, Number):
        return expr.args[0]
    if not expr.args:
        return expr
    args = [_plug(a, values) for a in expr.args]
    if isinstance(expr, (Dot, Product)) or expr.is_Mul:
        return built.product(args)
    if isinstance(expr, InOrder) or expr.is_Add:
        return built.total(args)
    if isinstance(expr, Ratio):
        return built.product((args[0], built.power(args[1], -1)))
    if expr.is_Pow:
        return built.power(*args)
    if isinstance(expr, ReLU) and args[0].is_Rational:
        return sp.Max(0, args[0])
    return expr.func(*args, evaluate=False)


def _depth(expr) -> int:
    """How deeply functions nest in a value (sigma(2 sigma(1.3) + 0.5) is 2)."""
    if not isinstance(expr, sp.Basic) or not expr.args:
        return 0
    inner = max(_depth(a) for a in expr.args)
    return inner + 1 if isinstance(expr, sp.Function) and not isinstance(expr, Shown) else inner


READABLE_LENGTH = 44


def readable(expr) -> bool:
    """Short enough to write down exactly: no function of a function, at most a line's third."""
    return _depth(expr) <= 1 and visible_length(expr) <= READABLE_LENGTH


def atomic(value) -> bool:
    """A number, or one function of a number (sigma(1.3), e^{0.5}), possibly negated."""
    if value.is_Rational:
        return True
    if value.is_Mul and len(value.args) == 2 and value.args[0] == -1:  # (not could_extract_minus_sign:
        value = value.args[1]                                            # it evaluates a long number)
    return isinstance(value, sp.Function) and all(a.is_Rational for a in value.args)


class _Backprop:
    """Everything one network's exercise needs, built once."""

    def __init__(self, network: Network, asked: tuple[tuple[int, int, int | None], ...]):
        self.net = network
        self.names = names_of(network)
        self.x = _indexed("x", len(network.inputs))
        self.y = _indexed("y", len(network.targets))
        self.given = dict(zip(self.x, network.inputs)) | dict(zip(self.y, network.targets))
        self.point: dict = {}
        for layer, names in zip(network.layers, self.names):
            for row, symbols in zip(layer.weights, names.weights):
                self.point.update(zip(symbols, row))
            self.point.update(zip(names.biases, layer.biases))
        # asked: (layer, unit, input) per parameter, input None for the bias.
        self.asked = asked
        self._deltas: dict = {}
        self._forward()

    # -- forward pass in the parameters (for the trees), and in floats (to choose the numbers)
    def _forward(self):
        net = self.net
        self.pre_in_p, self.post_in_p = [], []
        feed = tuple(net.inputs)
        for layer, names in zip(net.layers, self.names):
            pre = tuple(_weighted(ws, feed, b) for ws, b in zip(names.weights, names.biases))
            feed = tuple(softmax(k + 1, *pre) for k in range(len(pre))) if layer.activation == "softmax" else tuple(
                _activation(layer.activation, z) for z in pre)
            self.pre_in_p.append(pre)
            self.post_in_p.append(feed)
        self.loss_in_p = self.loss_of_outputs(self.pre_in_p[-1])
        self.pre_value, self.post_value = float_forward(net)

    @property
    def output(self) -> Layer:
        return self.net.layers[-1]

    def loss_of_outputs(self, logits: tuple) -> sp.Expr:
        """L as a function of the output layer's pre-activations."""
        out = self.output
        if out.activation == "softmax":
            return cross_entropy(logits, self.net.targets)
        (o,), (y,) = logits, self.net.targets
        if self.net.loss == "cross-entropy":
            return binary_cross_entropy(sigmoid(o), y)
        return squared_error(_activation(out.activation, o), y)

    # -- the backward pass as derivation trees (variables: the parameters)
    def _activation_step(self, name: str, z: sp.Symbol) -> Step:
        rule = RULES[name]
        return Step(name, _activation(name, z), z, rule.rate(z))

    def output_delta_step(self, k: int, logits: tuple) -> Step:
        """dL/do_k, logits[k] a symbol: one of the course's identities, or the
        squared error through the output activation by the chain rule."""
        out, y = self.output, self.net.targets
        o = logits[k]
        if out.activation == "softmax":
            return softmax_cross_entropy_step(logits, y, k + 1)
        if self.net.loss == "cross-entropy":
            return sigmoid_cross_entropy_step(o, y[0])
        if out.activation == "identity":
            return squared_error_step(o, y[0])
        yhat = self.names[-1].post[0]
        loss = squared_error_step(yhat, y[0])
        act = self._activation_step(out.activation, o)
        inner = act.expr
        return Step("chain", squared_error(inner, y[0]), o,
                    built.product((built.substituted(loss.result, {yhat: inner}), act.result)),
                    parts=(("outer", loss.expr), ("inner", inner), ("u", yhat)),
                    substeps=(loss, act), bindings=((yhat, inner),))

    def hidden_delta_step(self, j: int) -> Step:
        """dL/dz_j at hidden unit j: through its activation h_j, which feeds every output unit."""
        hidden, output = self.names[0], self.names[-1]
        h, z = hidden.post[j], hidden.pre[j]
        activation = self.net.layers[0].activation
        # o_k as a function of h_j, the other hidden units' h_m in the parameters (constants for z_j)
        feed = tuple(h if m == j else self.post_in_p[0][m] for m in range(len(hidden.post)))
        feeds = tuple(_weighted(vs, feed, c) for vs, c in zip(output.weights, output.biases))
        logits = output.pre
        partials = tuple(self.output_delta_step(k, logits) for k in range(len(logits)))
        rates = tuple(weighted_sum_step(feed, h) for feed in feeds)
        through = dict(zip(logits, feeds))
        of_h = self.loss_of_outputs(feeds)
        result = built.total(built.product((built.substituted(p.result, through), r.result))
                             for p, r in zip(partials, rates))
        if len(logits) == 1:
            by_h = Step("chain", of_h, h, result,
                        parts=(("outer", partials[0].expr), ("inner", feeds[0]), ("u", logits[0])),
                        substeps=(partials[0], rates[0]), bindings=((logits[0], feeds[0]),))
        else:
            by_h = Step("multivariable_chain", of_h, h, result,
                        parts=(("f", self.loss_of_outputs(logits)),) + tuple((o.name, f) for o, f in zip(logits, feeds)),
                        substeps=partials + rates, bindings=tuple(zip(logits, feeds)))
        act = self._activation_step(activation, z)
        inner = act.expr
        return Step("chain", built.substituted(of_h, {h: inner}), z,
                    built.product((built.substituted(by_h.result, {h: inner}), act.result)),
                    parts=(("outer", of_h), ("inner", inner), ("u", h)),
                    substeps=(by_h, act), bindings=((h, inner),))

    def delta_step(self, layer: int, unit: int) -> Step:
        """dL/dz of a unit (built once: every gradient of the unit shares it)."""
        key = (layer, unit)
        if key not in self._deltas:
            self._deltas[key] = self._delta_step(layer, unit)
        return self._deltas[key]

    def _delta_step(self, layer: int, unit: int) -> Step:
        """In the unit's z, the weights after it, and the other units of its
        layer in the parameters (constants for this z: a chain's outer function
        holds nothing else bound)."""
        if layer == len(self.net.layers) - 1:
            names = self.names[layer]
            logits = tuple(z if m == unit else self.pre_in_p[layer][m] for m, z in enumerate(names.pre))
            return self.output_delta_step(unit, logits)
        return self.hidden_delta_step(unit)

    def parameter(self, layer: int, unit: int, source: int | None) -> sp.Symbol:
        names = self.names[layer]
        return names.biases[unit] if source is None else names.weights[unit][source]

    def tree(self, layer: int, unit: int, source: int | None) -> Step:
        """dL/dp = dL/dz * dz/dp, z the pre-activation of the unit p belongs to."""
        p = self.parameter(layer, unit, source)
        z = self.names[layer].pre[unit]
        inner = self.pre_in_p[layer][unit]
        delta = self.delta_step(layer, unit)
        rate = weighted_sum_step(inner, p)
        bindings = ((z, inner),)
        return Step("chain", self.loss_in_p, p, built.product((built.substituted(delta.result, dict(bindings)),
                                                                rate.result)),
                    parts=(("outer", delta.expr), ("inner", inner), ("u", z)),
                    substeps=(delta, rate), bindings=bindings)

    # -- the key
    def worked(self) -> Worked:
        self.values: dict = {}  # named quantity -> exact value
        self.numbers = {s: number(v) for s, v in (self.point | self.given).items()}
        self.atoms: dict = {}  # named quantity -> its value as printed, where it is a number or sigma(number)
        self.short: dict = {}  # named quantity -> its row's last form, where that is short
        forward = self._forward_rows()
        backward = self._backward_rows()
        answers = tuple(self.gradient_value[self.parameter(*a)] for a in self.asked)
        asked = tuple(s for names in self.names for s in names.pre + names.post) + (_symbol("L"),) + tuple(
            Partial(_symbol("L"), self.parameter(*a)) for a in self.asked)
        point = tuple(self.point.items()) + tuple(self.given.items())
        return Worked((("Forward pass", forward), ("Backward pass", backward)), point=point, answers=answers,
                      asked=asked)

    def display(self, form: sp.Basic) -> sp.Basic:
        """The form with the given numbers put in, and each named value that
        is short (sigma(1.3)); a name stays where its value would make the
        form unreadable."""
        with_atoms = form.xreplace(self.numbers | self.atoms)
        # A longer value goes in only where it stands alone, a factor of a dotted product or a term
        # written out, never inside a SymPy sum (which would merge its numbers with the others).
        full = _dotted_numbers(_put(with_atoms, self.short))
        if readable(full):
            return full
        return _dotted_numbers(with_atoms)

    def _row(self, name, forms, **claim) -> Row:
        """A row showing its forms, then its exact value where that is short.
        The value is the first form with every number and named value put in."""
        value = _plug(forms[0], self.point | self.given | self.values)
        shown_forms = []
        for form in forms:
            if not shown_forms or form != shown_forms[-1]:
                shown_forms.append(form)
        exact = shown(value) if atomic(value) else None
        if exact is not None and exact != shown_forms[-1]:
            shown_forms.append(exact)
        if name is not None:
            self.values[name] = value
            if exact is not None:
                self.atoms[name] = exact
            elif readable(shown_forms[-1]):
                self.short[name] = shown_forms[-1]
        return Row(tuple(shown_forms), value, name=name, **claim)

    def _forward_rows(self) -> tuple[Row, ...]:
        rows = []
        feed = self.x
        for index, (layer, names) in enumerate(zip(self.net.layers, self.names)):
            for j, (ws, b, z) in enumerate(zip(names.weights, names.biases, names.pre)):
                general = InOrder(*(Product(w, a) for w, a in zip(ws, feed)), b)
                with_numbers = InOrder(*(Dot(self.display(w), self.display(a)) for w, a in zip(ws, feed)),
                                       self.display(b))
                rows.append(self._row(z, (general, with_numbers), truth=self.pre_in_p[index][j], role="forward"))
            for j, (z, a) in enumerate(zip(names.pre, names.post)):
                if layer.activation == "softmax":  # e^{o_k} / (e^{o_1} + e^{o_2})
                    general = Ratio(sp.exp(z, evaluate=False),
                                    InOrder(*(sp.exp(o, evaluate=False) for o in names.pre)))
                else:
                    general = ACTIVATIONS[layer.activation](z)
                rows.append(self._row(a, (general, self.display(general)), truth=self.post_in_p[index][j], role="forward"))
            feed = names.post
        outputs = self.names[-1].post
        if self.output.activation == "softmax":
            general = InOrder(*(-Product(y, sp.log(p)) for y, p in zip(self.y, outputs)))
            # The labels put in: only the true class's term is left, -ln y_hat_c.
            with_labels = -sp.Add(*(y * sp.log(p) for y, p in zip(self.net.targets, outputs)))
        else:
            general = with_labels = self._general_loss(outputs[0])
        rows.append(self._row(_symbol("L"), (general, self.display(with_labels)), truth=self.loss_in_p, role="forward"))
        return tuple(rows)

    def _general_loss(self, yhat: sp.Symbol) -> sp.Expr:
        (y,) = self.y
        if self.net.loss == "cross-entropy":
            return binary_cross_entropy(yhat, y)
        return Product(sp.Rational(1, 2), (yhat - y) ** 2)

    def _needed(self) -> tuple[set, set]:
        """The units whose delta the asked gradients need: (output units, hidden units)."""
        last = len(self.net.layers) - 1
        hidden = {unit for layer, unit, _ in self.asked if layer < last}
        outputs = {unit for layer, unit, _ in self.asked if layer == last}
        if hidden:
            outputs |= set(range(self.output.units))
        return outputs, hidden

    def _output_delta_forms(self, k: int) -> tuple[sp.Expr, tuple[str, ...]]:
        out = self.output
        yhat, y = self.names[-1].post[k], self.y[k]
        if out.activation == "softmax":
            return yhat - y, ("softmax_cross_entropy",)
        if self.net.loss == "cross-entropy":
            return yhat - y, ("sigmoid_cross_entropy",)
        if out.activation == "identity":
            return yhat - y, ("squared_error",)
        slope = {"sigmoid": yhat * (1 - yhat), "tanh": 1 - yhat**2, "relu": sp.Integer(1)}[out.activation]
        return Dot(yhat - y, slope), ("squared_error", out.activation)

    def _slope(self, activation: str, j: int):
        """g'(z_j) written with h_j (the course's identities), and ReLU' at this z_j."""
        h = self.names[0].post[j]
        if activation == "relu":
            return sp.Integer(1 if self.pre_value[0][j] > 0 else 0)
        return {"sigmoid": h * (1 - h), "tanh": 1 - h**2}[activation]

    def _backward_rows(self) -> tuple[Row, ...]:
        rows = []
        self.gradient_value = {}
        last = len(self.net.layers) - 1
        outputs, hidden = self._needed()
        out_names = self.names[last]
        loss = _symbol("L")
        for k in sorted(outputs):
            form, rules = self._output_delta_forms(k)
            logits = tuple(out_names.pre[m] for m in range(len(out_names.pre)))
            label = "output unit" + (f" {k + 1}" if self.output.units > 1 else "")
            rows.append(self._row(out_names.deltas[k], (form, self.display(form)), lhs=Partial(loss, out_names.pre[k]),
                                  of=self.loss_of_outputs(logits), wrt=(out_names.pre[k],), role="delta",
                                  label=label, rules=rules))
            rows += self._gradient_rows(last, k)
        if last == 1:
            names, activation = self.names[0], self.net.layers[0].activation
            for j in sorted(hidden):
                into = [Product(out_names.deltas[k], out_names.weights[k][j]) for k in range(self.output.units)]
                back = into[0] if len(into) == 1 else InOrder(*into)
                slope = self._slope(activation, j)
                form = Dot(*(back.args if isinstance(back, Product) else (back,)), slope)
                step = self.delta_step(0, j)
                label = "hidden unit" + (f" {j + 1}" if self.net.layers[0].units > 1 else "")
                rows.append(self._row(names.deltas[j], (form, self.display(form)), lhs=Partial(loss, names.pre[j]),
                                      of=step.expr, wrt=(names.pre[j],), role="delta", label=label,
                                      rules=("weighted_sum", activation)))
                rows += self._gradient_rows(0, j)
        return tuple(rows)

    def _gradient_rows(self, layer: int, unit: int) -> list[Row]:
        names = self.names[layer]
        feed = self.x if layer == 0 else self.names[layer - 1].post
        delta = names.deltas[unit]
        rows = []
        for asked_layer, asked_unit, source in self.asked:
            if (asked_layer, asked_unit) != (layer, unit):
                continue
            p = self.parameter(layer, unit, source)
            form = delta if source is None else Dot(delta, feed[source])
            # Its value is an answer: sheet.json's check compares it with the numeric derivative of L there.
            row = self._row(None, (form, self.display(form)), lhs=Partial(_symbol("L"), p),
                            role="gradient", rules=("weighted_sum",))
            self.gradient_value[p] = row.value
            rows.append(row)
        return rows


# ---------------------------------------------------------------------------
# Drawing a network
# ---------------------------------------------------------------------------

LOSSES = {  # output activation -> losses it is drawn with
    "sigmoid": ("squared", "cross-entropy"), "tanh": ("squared",), "relu": ("squared",),
    "identity": ("squared",), "softmax": ("cross-entropy",),
}
# Targets a squared error is drawn with, per output activation (within its range, not at it).
SQUARED_TARGETS = {"sigmoid": _numbers("0", "1"), "tanh": _numbers("-1", "1", "0.5"),
                   "relu": _numbers("0.5", "1", "2"), "identity": _numbers("-1", "0.5", "1", "2")}
TRIES = 60


def _layer(rng: random.Random, units: int, inputs: int, activation: str) -> Layer:
    weights = tuple(tuple(pick(rng, WEIGHTS) for _ in range(inputs)) for _ in range(units))
    return Layer(weights, tuple(pick(rng, BIASES) for _ in range(units)), activation)


def _targets(rng: random.Random, activation: str, loss: str, units: int) -> tuple:
    if activation == "softmax":
        hot = rng.randrange(units)
        return tuple(sp.Integer(1 if k == hot else 0) for k in range(units))
    if loss == "cross-entropy":
        return (sp.Integer(rng.randint(0, 1)),)
    return (pick(rng, SQUARED_TARGETS[activation]),)


def float_forward(network: Network) -> tuple[list, list]:
    """Every layer's pre-activations and activations in floats (to choose the numbers)."""
    pres, posts = [], []
    feed = [float(x) for x in network.inputs]
    for layer in network.layers:
        pre = [sum(float(w) * a for w, a in zip(ws, feed)) + float(b) for ws, b in zip(layer.weights, layer.biases)]
        if layer.activation == "softmax":
            top = max(pre)
            exps = [math.exp(z - top) for z in pre]
            feed = [e / sum(exps) for e in exps]
        else:
            feed = [FLOAT_ACTIVATIONS[layer.activation](z) for z in pre]
        pres.append(pre)
        posts.append(feed)
    return pres, posts


FLOAT_ACTIVATIONS = {"sigmoid": lambda z: 1 / (1 + math.exp(-z)), "tanh": math.tanh, "relu": lambda z: max(0.0, z),
                     "identity": lambda z: z}


def _fits(network: Network, asked) -> bool:
    """Every pre-activation inside (-3, 3) and at least 0.1 from 0 (ReLU's
    kink; sigma(0) = 1/2 leaves little to compute), and no gradient asked
    equal to zero: each asked unit's ReLU active, the output not at its
    target, a hidden unit's weights into two softmax outputs not equal."""
    pre_values, post_values = float_forward(network)
    for values in pre_values:
        if any(not 0.1 <= abs(v) <= LARGEST_INPUT_TO_UNIT for v in values):
            return False
    last = len(network.layers) - 1
    for layer, unit, source in asked:
        if network.layers[layer].activation == "relu" and pre_values[layer][unit] < 0:
            return False
        if layer == last and last > 0 and source is not None and post_values[0][source] == 0:
            return False  # the weight from a dead ReLU unit
        if layer < last and network.layers[-1].units == 2:
            into = [row[unit] for row in network.layers[-1].weights]
            if into[0] == into[1]:
                return False  # delta = delta_o1 (v_1j - v_2j) h'(z_j), as delta_o2 = -delta_o1
    if network.loss == "squared" and abs(post_values[-1][0] - float(network.targets[0])) < 0.05:
        return False
    return True


def _asked(rng: random.Random, network: Network) -> tuple[tuple[int, int, int | None], ...]:
    """(layer, unit, input or None for the bias) of each gradient asked: every
    parameter of one neuron; otherwise a weight into an output unit from a
    hidden unit, then a weight and the bias of that hidden unit (backward
    order: the output's delta, then the hidden unit's)."""
    inputs = len(network.inputs)
    if len(network.layers) == 1:
        return tuple((0, 0, k) for k in range(inputs)) + ((0, 0, None),)
    hidden, output = network.layers
    k = rng.randrange(output.units)
    j = rng.randrange(hidden.units)
    return ((1, k, j), (0, j, rng.randrange(inputs)), (0, j, None))


def draw_network(rng: random.Random, level: str) -> tuple[Network, tuple]:
    """A network of the level's shape with numbers that give a clean exercise
    (see `_fits`), and the gradients to ask."""
    for _ in range(TRIES):
        if level == "easy":
            inputs = pick(rng, (1, 1, 2, 2, 3))
            activation = pick(rng, ("sigmoid", "sigmoid", "tanh", "relu", "identity"))
            loss = pick(rng, LOSSES[activation])
            layers = (_layer(rng, 1, inputs, activation),)
        else:
            if level == "medium":
                inputs, hidden = pick(rng, ((1, 1), (1, 2), (2, 1)))
                activation, outputs = pick(rng, ("sigmoid", "sigmoid", "identity")), 1
            else:
                inputs, hidden = 2, 2
                activation, outputs = pick(rng, (("sigmoid", 1), ("softmax", 2)))
            loss = pick(rng, LOSSES[activation])
            layers = (_layer(rng, hidden, inputs, pick(rng, ("sigmoid", "tanh", "relu"))),
                      _layer(rng, outputs, hidden, activation))
        network = Network(tuple(pick(rng, INPUTS) for _ in range(inputs)),
                          _targets(rng, activation, loss, layers[-1].units), layers, loss)
        asked = _asked(rng, network)
        if _fits(network, asked):
            return network, asked
    return network, asked


# ---------------------------------------------------------------------------
# The exercise
# ---------------------------------------------------------------------------

def _activation_tex(name: str, argument: str) -> str:
    return {"sigmoid": r"\sigma\left(%s\right)", "tanh": r"\tanh %s", "relu": r"\operatorname{ReLU}\left(%s\right)",
            "identity": "%s"}[name] % argument


def _unit_equation(pre: str, weight: str, bias: str, feed: tuple[str, ...], generic: str | None) -> str:
    """z_j = w_{j1} x_1 + w_{j2} x_2 + b_j, written for a generic unit j where there are several."""
    index = generic or ""
    terms = []
    for k, a in enumerate(feed, start=1):
        w = weight if not index and len(feed) == 1 else (
            f"{weight}_{{{index}{k if len(feed) > 1 else ''}}}" if index else f"{weight}_{{{k}}}")
        terms.append(f"{w} {a}")
    b = f"{bias}_{{{index}}}" if index else bias
    z = f"{pre}_{{{index}}}" if index else pre
    return f"{z} = " + " + ".join(terms) + f" + {b}"


def prompt_of(build: _Backprop) -> str:
    """The network as equations and every number given, as an aligned block."""
    net = build.net
    feed = tuple(tex(x) for x in build.x)
    lines = []
    letters = (("w", "b", "z", r"\hat{y}"),) if len(net.layers) == 1 else (("w", "b", "z", "h"), ("v", "c", "o", r"\hat{y}"))
    for layer, (weight, bias, pre, post) in zip(net.layers, letters):
        index = ("j" if pre == "z" else "k") if layer.units > 1 else None
        equation = _unit_equation(pre, weight, bias, feed, index)
        z = f"{pre}_{{{index}}}" if index else pre
        a = f"{post}_{{{index}}}" if index else post
        if layer.activation == "softmax":
            activation = r"%s = \frac{e^{%s}}{%s}" % (a, z, " + ".join(f"e^{{{pre}_{{{m}}}}}" for m in range(1, layer.units + 1)))
        else:
            activation = f"{a} = {_activation_tex(layer.activation, z)}"
        where = r" \quad (%s = %s)" % (index, ", ".join(str(m) for m in range(1, layer.units + 1))) if index else ""
        lines.append(f"&{equation}, \\quad {activation}{where}")
        feed = tuple(f"{post}_{{{m}}}" for m in range(1, layer.units + 1)) if layer.units > 1 else (post,)
    lines[-1] += r", \quad L = " + _loss_tex(build)
    data = [f"{tex(s)} = {tex(number(v))}" for s, v in zip(build.x, net.inputs)]
    data += [f"{tex(s)} = {tex(number(v))}" for s, v in zip(build.y, net.targets)]
    lines.append("&" + ", \\ ".join(data))
    for names in build.names:
        symbols = [s for row in names.weights for s in row] + list(names.biases)
        lines.append("&" + ", \\ ".join(f"{tex(s)} = {tex(number(build.point[s]))}" for s in symbols))
    return r"\begin{aligned}[t]%s\end{aligned}" % r"\\".join(lines)


def _loss_tex(build: _Backprop) -> str:
    net = build.net
    if net.layers[-1].activation == "softmax":
        return r"-\sum_{k} y_{k} \ln \hat{y}_{k}"
    if net.loss == "cross-entropy":
        return r"-y \ln \hat{y} - (1 - y) \ln\left(1 - \hat{y}\right)"
    return r"\frac{1}{2}\left(\hat{y} - y\right)^{2}"


@topic("backprop", "Backpropagation by hand: the forward pass, the loss and dL/dw, dL/db of a tiny network "
       "(one neuron; two layers; 2-2-1 or 2-2-2 with softmax and cross-entropy) at given weights",
       # Rule applications of the backward pass, a delta shared by several gradients counted once
       # (`steps.shared_rule_count`); the level is the network's size (draw_network), and a hard
       # 2-2-1 network asks as few gradients as a medium one: its count is no larger.
       ranges={"easy": (4, 14), "medium": (10, 16), "hard": (10, 18)}, by_level=True)
def _backprop(rng: random.Random, level: str):
    network, asked = draw_network(rng, level)
    build = _Backprop(network, asked)
    wrt = tuple(build.parameter(*a) for a in asked)
    given = tuple(sorted(build.point.items(), key=lambda item: item[0].name))

    def complete() -> Draft:  # the trees and the key, once the network is accepted (no rng drawn here)
        trees = tuple(build.tree(*a) for a in asked)
        return Draft(build.loss_in_p, wrt=wrt, domain=Domain(), name="L", prompt=prompt_of(build),
                     preferred=tuple(t.result for t in trees), steps=trees, at_point=True, given=given,
                     worked=build.worked(), outline=outline_of(network), shape=shape)

    # The same network with other weights is the same exercise with other numbers.
    shape = "/".join(outline_of(network)) + ("/y=%s" % ",".join(map(str, network.targets))
                                             if network.loss == "cross-entropy" else "")
    return Draft(build.loss_in_p, wrt=wrt, domain=Domain(), name="L", at_point=True, given=given,
                 outline=outline_of(network), shape=shape, complete=complete)


def outline_of(network: Network) -> tuple[str, ...]:
    """What a reader sees first: the layers' sizes, activations and the loss."""
    sizes = "-".join(str(n) for n in (len(network.inputs),) + tuple(layer.units for layer in network.layers))
    return ("backprop", sizes, *(layer.activation for layer in network.layers), network.loss)
