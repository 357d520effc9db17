"""One error type for refused inspection actions, with a message in each language."""
from __future__ import annotations

MESSAGES = {
    "unknown_point": ("没有编码为“{code}”的巡查点位，请核对标签或手动输入编码。",
                      "There is no inspection point with the code \"{code}\". Check the label or type the code."),
    "other_community": ("该点位属于其他小区（{community}），不在本次巡查范围内。",
                        "This point belongs to another community ({community}); it is not part of this run."),
    "not_on_route": ("点位 {code} 不在本条巡查路线上。", "Point {code} is not on this route."),
    "duplicate": ("点位 {code} 在本次巡查中已于 {at} 打卡，不能重复打卡。",
                  "Point {code} was already checked in this run at {at}; it cannot be checked twice."),
    "run_closed": ("本次巡查已结束（{status_zh}），不能再打卡。", "This run has ended ({status_en}); no more check-ins."),
    "future_time": ("打卡时间晚于当前时间，请校准手机时间。", "The check-in time is in the future; check the phone's clock."),
    "before_run": ("打卡时间早于本次巡查的计划时间（{planned}），请校准手机时间。",
                   "The check-in time is before the run was planned ({planned}); check the phone's clock."),
    "bad_route": ("路线点位有误：{detail}", "The route's points are wrong: {detail}"),
    "no_checklist": ("点位 {code} 的检查表“{checklist}”不存在。", "The checklist \"{checklist}\" of point {code} does not exist."),
    "module_off": ("本小区未启用巡查巡检模块。", "The inspection module is not enabled in this community."),
    "empty_note": ("请填写抽查发现的问题。", "Describe what the spot check found."),
}


class InspectionError(Exception):
    def __init__(self, reason: str, **params):
        self.code = reason
        self.params = params
        super().__init__(self.message("en"))

    def message(self, locale: str) -> str:
        zh, en = MESSAGES[self.code]
        return (en if locale.startswith("en") else zh).format(**self.params)
