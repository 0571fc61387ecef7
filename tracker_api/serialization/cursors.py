"""The change feed's cursors: opaque to clients, a change number of one kind of record to the API (writes/feed.py)."""
import base64
import binascii

from ..web.i18n import gettext

CURSOR_VERSION = "v1"


class InvalidCursor(ValueError):
    pass


def cursor_kind(kind, client_code=None):
    """What a cursor is a position in: a list's whole feed, or one client's."""
    return f"{kind}@{client_code}" if client_code else kind


def encode_cursor(kind, change_seq):
    return base64.urlsafe_b64encode(f"{CURSOR_VERSION}:{kind}:{change_seq}".encode()).decode().rstrip("=")


def decode_cursor(kind, cursor):
    """The change number a cursor of this kind stands for; InvalidCursor for anything this API did not give out."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        version, cursor_kind, change_seq = text.split(":")
        if version == CURSOR_VERSION and cursor_kind == kind and change_seq.isdigit():
            return int(change_seq)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise InvalidCursor(gettext("Not a %(kind)s cursor this API gave out; start again with updated_since.", kind=kind))
