"""The canonical order of task ids: natural, whatever order the input gives."""

import random

from capability.estimation.task_order import in_task_order, task_key


def test_digits_compare_as_numbers_and_text_as_text():
    ids = ["HumanEval/10", "HumanEval/2", "Mbpp/3", "HumanEval/1", "HumanEval/100", "a",
           "HumanEval/01", "b2c10", "b2c9", "7"]
    assert in_task_order(ids) == ["7", "HumanEval/01", "HumanEval/1", "HumanEval/2",
                                  "HumanEval/10", "HumanEval/100", "Mbpp/3", "a", "b2c9",
                                  "b2c10"]
    # Leading zeros: equal numbers, told apart by the text, so the order is total.
    assert task_key("HumanEval/01") != task_key("HumanEval/1")


def test_any_input_order_gives_one_order_without_repeats():
    ids = [f"HumanEval/{i}" for i in range(164)]
    shuffled = ids * 2
    random.Random(0).shuffle(shuffled)
    assert in_task_order(shuffled) == ids
    # Ids that are not strings keep their type, ordered by their text.
    assert in_task_order([10, 2, 1]) == [1, 2, 10]
