"""The good return is reviewed at 100 with no warnings; the blank template is all errors."""

from decimal import Decimal

from conftest import codes


def test_good_return_scores_full_marks(make_return, evaluate):
    res = evaluate(make_return())
    assert res.status == "reviewed"
    assert res.reviewed_total == Decimal("100.00")
    assert res.reviewed_grade == "优秀"
    assert res.self_total == 100
    assert codes(res) == []


def test_balance_error_names_carryover_end(make_return, evaluate):
    res = evaluate(make_return(carryover_end=Decimal("42.53")))
    assert res.status == "error"
    found = [f for f in res.findings if f.code == "balance-mismatch"]
    assert len(found) == 1
    assert found[0].sheet == "基础数据表"
    assert "相差 10.00" in found[0].message
    assert "2.89 + 本年收入合计 2999.76 = 3002.65" in found[0].message
