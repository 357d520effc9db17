"""Payment settings (environment ``ESTATEFLOW_PAY_*``); secrets never in code or menus."""
from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.settings import get_settings


class PaymentSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ESTATEFLOW_PAY_", extra="ignore")

    gateway: str = Field(default="sandbox", description="Gateway residents pay through: sandbox, wechatpay or alipay.")
    duplicate_payment: str = Field(
        default="refund", description="A second successful payment of an already-paid order: refund (sent back "
        "through its gateway) or prepaid (kept as the household's prepaid balance).")
    sandbox_secret: str = Field(
        default="", description="HMAC-SHA256 key the sandbox bank signs notifications with; "
        "empty: derived from ESTATEFLOW_SECRET_KEY.")
    receipt_secret: str = Field(
        default="", description="Key of receipt verification codes; empty: derived from ESTATEFLOW_SECRET_KEY.")
    public_base_url: str = Field(
        default="", description="Base URL gateways call back (https://pay.example.com); empty: the URL "
        "the payer's request came in on.")
    notify_attempts: int = Field(default=6, description="Sandbox bank: delivery attempts of a notification.")
    notify_backoff_seconds: float = Field(default=0.5, description="Sandbox bank: first retry delay, doubled each time.")
    wechatpay_mchid: str = Field(default="", description="WeChat Pay merchant id.")
    wechatpay_appid: str = Field(default="", description="WeChat (official account / mini program) app id.")
    wechatpay_apiv3_key: str = Field(default="", description="APIv3 key (32 bytes) that decrypts callback resources.")
    wechatpay_platform_certs: list[Path] = Field(
        default_factory=list, description="PEM files of the WeChat Pay platform certificates (JSON list; "
        "several during a rotation); each is known by its own serial number. Optional: a serial we do not "
        "know is fetched from /v3/certificates (decrypted with the APIv3 key) and kept.")
    wechatpay_public_key: Path | None = Field(
        default=None, description="PEM of the WeChat Pay platform public key (merchants created since 2024).")
    wechatpay_public_key_id: str = Field(default="", description="Id of that public key (PUB_KEY_ID_…).")
    wechatpay_api_base: str = Field(default="https://api.mch.weixin.qq.com",
                                    description="WeChat Pay API address (a local fake in tests).")
    wechatpay_http: bool = Field(default=False, description="Send requests to WeChat Pay over HTTPS "
                                 "(off: payments through WeChat Pay cannot start, callbacks still verify).")
    wechatpay_timeout_seconds: float = Field(default=10.0, description="Timeout of one request to WeChat Pay.")
    wechatpay_merchant_key: Path | None = Field(default=None, description="Merchant API private key (PEM).")
    wechatpay_merchant_serial: str = Field(default="", description="Serial of the merchant API certificate.")
    wechatpay_h5: bool = Field(default=False, description="Residents without a bound WeChat identity pay by H5 "
                               "(needs the H5 product at WeChat Pay); off: they scan a Native QR code.")
    alipay_app_id: str = Field(default="", description="Alipay open platform app id.")
    alipay_private_key: Path | None = Field(default=None, description="The app's RSA2 private key (PEM).")
    alipay_public_key: Path | None = Field(default=None, description="Alipay public key (PEM; public key mode).")
    alipay_app_cert: Path | None = Field(default=None, description="App public key certificate (certificate mode).")
    alipay_cert: Path | None = Field(default=None, description="Alipay public key certificate(s) (certificate mode; "
                                     "a PEM file may hold several during a rotation).")
    alipay_root_cert: Path | None = Field(default=None, description="Alipay root certificate (certificate mode).")
    alipay_gateway_url: str = Field(default="https://openapi.alipay.com/gateway.do",
                                    description="Alipay gateway address (a local fake in tests).")
    alipay_http: bool = Field(default=False, description="Send requests to Alipay (off: Alipay payments cannot start).")
    alipay_wap: bool = Field(default=False, description="Residents pay on Alipay's wap cashier (off: a QR code).")
    alipay_timeout_seconds: float = Field(default=10.0, description="Timeout of one request to Alipay.")


@lru_cache(maxsize=1)
def get_payment_settings() -> PaymentSettings:
    return PaymentSettings()


def derived_secret(purpose: str, explicit: str = "") -> bytes:
    """``explicit`` if set, else a per-purpose key derived from the platform secret key."""
    if explicit:
        return explicit.encode()
    return hmac.new(get_settings().secret_key.encode(), purpose.encode(), hashlib.sha256).digest()
