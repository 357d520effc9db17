"""The one error type of the energy services: a code, its parameters and a message in zh/en.

Raised before anything is written, so a caller shows the message and nothing is half done.
"""
from __future__ import annotations

from typing import Any

MESSAGES: dict[str, dict[str, str]] = {
    "backwards": {
        "zh": "读数 {value} 低于上次读数 {previous}（{at}）。是否换表？确认换表后再提交。",
        "en": "Reading {value} is lower than the last reading {previous} ({at}). Was the meter replaced? "
              "Confirm the replacement and submit again."},
    "far_off": {
        "zh": "读数 {value} 意味着 {days} 天用量 {usage}，远高于该表的日常用量（中位数 {median}/天）。请核对表盘后确认提交。",
        "en": "Reading {value} means {usage} in {days} days, far above this meter's usual use (median {median} per day). "
              "Check the dial and confirm."},
    "photo_required": {"zh": "请拍摄表盘照片。", "en": "A photo of the dial is required."},
    "bad_value": {"zh": "读数必须是不小于 0 的数字。", "en": "The reading must be a number, 0 or more."},
    "no_unit": {"zh": "住户表 {meter} 没有关联房屋，无法计量到户。请先在表计上填写房屋。",
                "en": "Household meter {meter} has no unit: assign it to a unit first."},
    "no_building": {"zh": "公共表 {meter} 没有所属楼栋，无法按楼栋分摊。请先填写楼栋。",
                    "en": "Public meter {meter} belongs to no building, so it cannot be apportioned by building. "
                          "Assign a building first."},
    "no_meter": {"zh": "没有这个表计。", "en": "No such meter."},
    "bad_read_at": {"zh": "抄表时间格式不对，应为 年-月-日 时:分。", "en": "The reading time must look like YYYY-MM-DD HH:MM."},
    "future_reading": {"zh": "抄表时间 {at} 晚于现在。", "en": "The reading time {at} is in the future."},
    "before_last": {
        "zh": "抄表时间 {at} 不晚于该表上次读数的时间（{previous_at}）。只能补录上次读数之后的读数。",
        "en": "The reading time {at} is not after this meter's last reading ({previous_at}). "
              "Only a reading taken after the last one can be entered."},
    "already_apportioned": {
        "zh": "{period} 的{kind}公摊已于 {at} 完成（{total} 元），不会重复分摊。",
        "en": "The {kind} apportionment of {period} was already done on {at} ({total} yuan); it is not repeated."},
    "negative_remainder": {
        "zh": "{scope} 的分表合计 {subs} 高于总表 {master}：公摊为负，已记录为异常，未生成分摊。",
        "en": "In {scope} the sub-meters add up to {subs}, more than the master meter's {master}: the shared part "
              "would be negative. Recorded as a finding; nothing was apportioned."},
    "nothing_shared": {"zh": "{period} 没有可分摊的公共用量。", "en": "No shared consumption to apportion in {period}."},
    "no_households": {"zh": "没有可参与分摊的住户。", "en": "No households to share among."},
    "no_basis": {"zh": "按用量分摊需要住户用量，但 {period} 没有住户用量。",
                 "en": "Apportioning by usage needs household usage, and there is none in {period}."},
    "bad_period": {"zh": "期间格式应为 YYYY-MM。", "en": "The period must look like YYYY-MM."},
    "published": {"zh": "{period} 已公示，不能修改；请录入更正分录。",
                  "en": "{period} is published and cannot be changed; record a correcting entry instead."},
    "already_published": {"zh": "{period} 已于 {at} 公示。", "en": "{period} was already published on {at}."},
    "bad_amount": {"zh": "金额须为大于 0 的数字（元，最多两位小数）。",
                   "en": "The amount must be more than 0 yuan, with at most 2 decimals."},
    "bad_direction": {"zh": "请选择收入或支出。", "en": "Choose income or expense."},
    "bad_category": {"zh": "未知的收支类别。", "en": "Unknown category."},
    "evidence_required": {"zh": "请上传凭证（发票、合同或收据照片）。",
                          "en": "Upload the evidence (invoice, contract or receipt)."},
    "empty_description": {"zh": "请填写说明。", "en": "A description is required."},
    "no_entry": {"zh": "没有这条分录。", "en": "No such entry."},
    "not_published": {"zh": "{period} 尚未公示。", "en": "{period} is not published yet."},
}


class EnergyError(ValueError):
    def __init__(self, code: str, **params: Any):
        self.code, self.params = code, params
        super().__init__(self.message("en"))

    def message(self, locale: str = "zh") -> str:
        texts = MESSAGES.get(self.code, {"zh": self.code, "en": self.code})
        text = texts.get(locale) or texts["en"]
        try:
            return text.format(**self.params)
        except (KeyError, IndexError):
            return text
