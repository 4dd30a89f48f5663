"""Association rules: the published Groceries rule sets, exact thresholds, suggestions."""

from fractions import Fraction

import pytest

from guanxi.engine.rules import (
    Recommender,
    Rule,
    association_rules,
    baskets_from_lists,
    baskets_from_pairs,
    frequent_itemsets,
    min_count,
)
from guanxi.engine.tests._data import groceries


@pytest.fixture(scope="module")
def grocery_rules() -> list[Rule]:
    return association_rules(baskets_from_lists(groceries()), min_support=0.001, min_confidence=0.5)


def test_groceries_support_0001_confidence_05(grocery_rules: list[Rule]) -> None:
    """arules: apriori(Groceries, parameter = list(supp = 0.001, conf = 0.5)) gives "a set of
    5668 rules", and inspect(head(sort(rules, by = "lift"), 3)) shows (Hahsler's arules
    examples and the many tutorials that reproduce them):
      {Instant food products, soda} => {hamburger meat}  support 0.001220132  confidence 0.6315789  lift 18.995654
      {popcorn, soda}               => {salty snack}     support 0.001220132  confidence 0.6315789  lift 16.697793
      {baking powder, flour}        => {sugar}           support 0.001016777  confidence 0.5555556  lift 16.408075
    """
    assert len(grocery_rules) == 5668
    top = [(r.antecedent, r.consequent, r.count, round(r.confidence, 7), round(r.lift, 6)) for r in grocery_rules[:3]]
    assert top == [
        (("Instant food products", "soda"), ("hamburger meat",), 12, 0.6315789, 18.995654),
        (("popcorn", "soda"), ("salty snack",), 12, 0.6315789, 16.697793),
        (("baking powder", "flour"), ("sugar",), 10, 0.5555556, 16.408075),
    ]
    assert round(grocery_rules[0].support, 9) == 0.001220132


def test_groceries_lantz_rule_set() -> None:
    """Lantz, Machine Learning with R (ch. 8): apriori(groceries, parameter = list(support =
    0.006, confidence = 0.25, minlen = 2)) gives "a set of 463 rules"; the top by lift is
    {herbs} => {root vegetables}, support 0.007015760, confidence 0.4312500, lift 3.956477.
    """
    rules = association_rules(baskets_from_lists(groceries()), min_support=0.006, min_confidence=0.25)
    assert len(rules) == 463
    top = rules[0]
    assert (top.antecedent, top.consequent) == (("herbs",), ("root vegetables",))
    assert (round(top.support, 9), top.confidence, round(top.lift, 6)) == (0.00701576, 0.43125, 3.956477)


def test_groceries_frequent_itemsets_and_deduplication() -> None:
    data = groceries()
    compact = baskets_from_lists(data)
    plain = baskets_from_lists(data, deduplicate=False)
    assert (compact.n_baskets, compact.n_distinct, len(compact.items)) == (9835, 7011, 169)
    assert (plain.n_baskets, plain.n_distinct) == (9835, 9835)
    found = {(s.items, s.count) for s in frequent_itemsets(compact, 10)}
    assert found == {(s.items, s.count) for s in frequent_itemsets(plain, 10)}
    assert len(found) == 13492
    counts = {tuple(compact.items[i] for i in items): n for items, n in found}
    assert counts[("whole milk",)] == 2513  # support 0.2555160 in arules' itemFrequency(Groceries)


def test_thresholds_are_integer_counts() -> None:
    assert min_count(0.001, 9835) == 10  # 9.835 baskets -> at least 10
    assert min_count(0.001, 10000) == 10  # exactly 10, although 0.001 * 10000 = 10.000000000000002 in floats
    assert min_count("0.3", 10) == 3
    assert min_count(Fraction(1, 3), 9) == 3
    # Confidence exactly at the threshold counts: 3 of 5 baskets with a also hold b (0.6).
    baskets = baskets_from_lists([["a", "b"]] * 3 + [["a"]] * 2 + [["b"]])
    rules = association_rules(baskets, min_support_count=1, min_confidence=0.6)
    assert [(r.antecedent, r.consequent, r.count, r.antecedent_count) for r in rules] == [
        (("b",), ("a",), 3, 4),
        (("a",), ("b",), 3, 5),
    ]
    stricter = association_rules(baskets, min_support_count=1, min_confidence="0.6000001")
    assert [(r.antecedent, r.consequent) for r in stricter] == [(("b",), ("a",))]
    with pytest.raises(ValueError, match="exactly one"):
        association_rules(baskets, min_confidence=0.5)


def test_multi_item_consequents_and_measures() -> None:
    data = [["a", "b", "c"], ["a", "b", "c"], ["a", "b"], ["c"], ["a", "c"]]
    rules = association_rules(baskets_from_lists(data), min_support_count=2, min_confidence=0.5, max_consequent=None)
    by_key = {(r.antecedent, r.consequent): r for r in rules}
    rule = by_key[(("a",), ("b", "c"))]
    assert (rule.count, rule.antecedent_count, rule.consequent_count, rule.n_baskets) == (2, 4, 2, 5)
    assert (rule.support, rule.confidence, rule.lift) == (0.4, 0.5, 1.25)
    assert len([r for r in rules if len(r.consequent) == 2]) == 3


def test_pairs_from_order_lines() -> None:
    # Order 7 has a duplicate line; orders 7 and 9 are the same basket.
    baskets = baskets_from_pairs([7, 7, 7, 9, 9, 4], [0, 1, 1, 1, 0, 2], ["tea", "cups", "pot"])
    assert (baskets.n_baskets, baskets.n_distinct) == (3, 2)
    assert [(s.items, s.count) for s in frequent_itemsets(baskets, 2)] == [((0,), 2), ((1,), 2), ((0, 1), 2)]


def test_suggestions_for_one_basket(grocery_rules: list[Rule]) -> None:
    recommender = Recommender(grocery_rules)
    suggestions = recommender.suggest(["yogurt", "whole milk", "rice", "tropical fruit"], limit=3)
    assert [(s.item, s.because, round(s.confidence, 4)) for s in suggestions] == [
        ("other vegetables", ("rice", "whole milk", "yogurt"), 0.8333),
        ("root vegetables", ("rice", "whole milk", "yogurt"), 0.7778),
    ]
    # Nothing in the basket is suggested back, and unknown items are ignored.
    assert recommender.suggest(["other vegetables", "root vegetables", "rice", "whole milk", "yogurt", "?"]) == []
    by_lift = recommender.suggest(["Instant food products", "soda"], by="lift")
    assert by_lift[0].item == "hamburger meat"
