"""A stored notification is read in the reader's language (issue #17: they stayed Chinese in English)."""
from __future__ import annotations

from app.domains.notifications.delivery import in_locale, render
from app.domains.notifications.models import Notification


def _sent_in_chinese(template: str, params: dict) -> Notification:
    title, body = render(template, params, "zh")
    return Notification(channel="in_app", template=template, params=params, title=title, body=body, locale="zh")


def test_a_chinese_notification_reads_in_english_and_stays_as_sent_in_chinese():
    n = _sent_in_chinese("dunning.reminder.first", {"bill": "YC-B-1", "period": "2026-11", "amount": "60.73",
                                                     "due_date": "2026-11-30"})
    assert in_locale(n, "zh") == (n.title, n.body)
    title, body = in_locale(n, "en")
    assert title == "Property fee reminder: YC-B-1" and "¥60.73" in body and "物业" not in body


def test_an_unknown_template_keeps_the_stored_text():
    n = Notification(channel="in_app", template="gone.template", params={}, title="标题", body="正文", locale="zh")
    assert in_locale(n, "en") == ("标题", "正文")
