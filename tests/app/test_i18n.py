"""Every user-facing string has Simplified Chinese; the language switches per session."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_extracted_string_has_a_chinese_translation():
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "i18n.py"), "--check"],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_language_switch_changes_the_ui(demo_app, login):
    client = login("manager_yc")
    assert "模块菜单" in client.get("/").text
    client.post("/lang/en")
    page = client.get("/")
    assert "Module menu" in page.text and "模块菜单" not in page.text
    client.post("/lang/zh")
    assert "我的小区" in client.get("/").text


def test_language_choice_follows_the_user_to_a_new_session(demo_app, login):
    first = login("accountant_yc")
    first.post("/lang/en")
    second = login("accountant_yc")  # a new browser: no cookie from the first one
    assert "My tasks" in second.get("/inbox/").text
    second.post("/lang/zh")
    assert "我的待办" in login("accountant_yc").get("/inbox/").text
