"""The Calculator plugin runs inside the app process: it must refuse work that would hold
the GIL (and so freeze every page) instead of computing it."""

from __future__ import annotations

import pytest

from demo_core.agent.actions import Calculator, CalculatorError, evaluate

pytestmark = pytest.mark.timeout(10)  # a regression would hang, not fail


@pytest.mark.parametrize(
    "expression",
    [
        "((10**999)**999)**999",  # each exponent small, the result astronomically large
        "(10**999)**999",
        "(2**1000)**13",
        "-(9**999)**999",
        "factorial(1000) * factorial(1000)",
    ],
)
def test_huge_integer_results_are_refused_before_they_are_computed(expression):
    with pytest.raises(CalculatorError, match="too large"):
        evaluate(expression)


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("(3.5 + 2) * 4", 22.0),
        ("2 ** 100", 2**100),
        ("(-1) ** 999999", None),  # refused only as "exponent too large", never computed
        ("1 ** 10", 1),
        ("2 ** -3", 0.125),
        ("factorial(20)", 2432902008176640000),
    ],
)
def test_ordinary_arithmetic_still_works(expression, value):
    if value is None:
        with pytest.raises(CalculatorError):
            evaluate(expression)
    else:
        assert evaluate(expression) == value


def test_plugin_reports_refusals_as_errors_not_exceptions():
    ret = Calculator().run("((10**999)**999)**999")
    assert ret.errmsg and "too large" in ret.errmsg
    ok = Calculator().run("6 * 7")
    assert ok.result[0]["content"] == "6 * 7 = 42"
