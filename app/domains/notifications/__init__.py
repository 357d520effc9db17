"""Notifications: zh/en templates (``menus/notifications/*.yaml``), recipients, channels.

Owns notification rows, the ``notify`` service every domain calls, the notification page
and the ``notify.*`` operations.

Offers: ``delivery.notify``.
"""
