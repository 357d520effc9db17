"""Amounts in Chinese capitals (大写金额) for receipts: the bank rules for zeros and 整."""
from __future__ import annotations

import pytest

from app.domains.fees.money import capitals


@pytest.mark.parametrize("cents,words", [
    (0, "零元整"),
    (5, "伍分"),
    (50, "伍角"),
    (100, "壹元整"),
    (1000, "壹拾元整"),
    (10000, "壹佰元整"),
    (12005, "壹佰贰拾元零伍分"),       # 角 is 0, 分 is not: 零 after 元
    (12050, "壹佰贰拾元伍角"),         # nothing after 角: no 整
    (12055, "壹佰贰拾元伍角伍分"),
    (7591, "柒拾伍元玖角壹分"),
    (100100, "壹仟零壹元整"),          # zeros inside: one 零
    (168032, "壹仟陆佰捌拾元叁角贰分"),
    (1000000, "壹万元整"),
    (1001000, "壹万零壹拾元整"),
    (10700053, "壹拾万零柒仟元伍角叁分"),
    (100000000, "壹佰万元整"),
    (10000000100, "壹亿零壹元整"),      # an empty 万 section writes no 万
    (11000000000, "壹亿壹仟万元整"),
    (-12005, "负壹佰贰拾元零伍分"),
])
def test_capitals(cents, words):
    assert capitals(cents) == words
