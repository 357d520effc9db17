"""Message channel settings (environment ``ESTATEFLOW_MSG_*``): the SMS provider's keys and
templates, the WeChat subscription-message templates, and how failed deliveries are retried.
Secrets come from the environment only, never from code or menus.

A provider template is fixed text approved by the provider, with numbered (SMS) or named
(WeChat) blanks; each of ours says which notification parameters fill them, e.g.::

    ESTATEFLOW_MSG_SMS_TEMPLATES='{"repair.status_changed": {"id": "1234567",
                                   "params": ["order_number", "status"]}}'
    ESTATEFLOW_MSG_WECHAT_TEMPLATES='{"repair.status_changed": {"id": "tmpl-xyz",
        "page": "pages/repair/detail", "data": {"character_string1": "order_number",
                                                "phrase2": "status", "thing3": "title"}}}'

``title`` and ``body`` (the rendered notification) may be named like any parameter.
"""
from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class MessageSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ESTATEFLOW_MSG_", extra="ignore")

    sms_provider: str = Field(default="", description="SMS provider: tencent (Tencent Cloud SMS "
                              "SendSms, TC3-HMAC-SHA256); empty: SMS is off and SMS rows fail visibly.")
    sms_secret_id: str = Field(default="", description="Tencent Cloud API SecretId.")
    sms_secret_key: str = Field(default="", description="Tencent Cloud API SecretKey.")
    sms_sdk_app_id: str = Field(default="", description="SMS application id (SmsSdkAppId, 1400…).")
    sms_sign_name: str = Field(default="", description="Approved SMS signature (签名), e.g. the company's name.")
    sms_region: str = Field(default="ap-guangzhou", description="Tencent Cloud region of the SMS API.")
    sms_endpoint: str = Field(default="https://sms.tencentcloudapi.com",
                              description="SMS API address (a local fake in tests and the demo).")
    sms_templates: dict[str, dict] = Field(
        default_factory=dict, description="Notification template → {id, params: [names in the "
        "provider template's order]} (JSON).")
    wechat_templates: dict[str, dict] = Field(
        default_factory=dict, description="Notification template → {id, page, data: {keyword: "
        "parameter name}} for WeChat subscription messages (JSON).")
    wechat_miniprogram_state: str = Field(default="formal", description="Which mini-program version a "
                                          "message opens: formal, trial or developer.")
    timeout_seconds: float = Field(default=5.0, description="Timeout of one request to a provider.")
    delivery_attempts: int = Field(default=5, ge=1, le=20, description="Attempts of one SMS/WeChat "
                                   "message before it is marked failed.")
    retry_base_seconds: float = Field(default=30.0, ge=0, description="Wait before the first retry; "
                                      "doubled after each failed attempt.")


@lru_cache(maxsize=1)
def get_message_settings() -> MessageSettings:
    """Process-wide message settings (tests call ``get_message_settings.cache_clear()``)."""
    return MessageSettings()
