"""The exit screen's QR code: the driver's ticket page URL as a PNG."""
from __future__ import annotations

import io


def qr_png(text: str) -> bytes:
    import qrcode

    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=8, border=3)
    code.add_data(text)
    code.make(fit=True)
    buf = io.BytesIO()
    code.make_image().save(buf, format="PNG")
    return buf.getvalue()
