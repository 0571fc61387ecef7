"""IANA time zones, as the bots' local days need them: only names of the system's tz database are accepted."""
import functools
import zoneinfo

from ..web.i18n import gettext


# Files of the tz database directory that are links to the server's own settings, not zones a client can mean.
NOT_ZONES = frozenset({"localtime", "posixrules"})


@functools.cache
def _names():
    # The installed zone names, read once: ZoneInfo() alone would open any file of the directory, and would take
    # a path such as "../etc/..." apart only by its own checks.
    return (frozenset(zoneinfo.available_timezones()) - NOT_ZONES) | {"UTC"}


def is_time_zone(name):
    return name in _names()


def time_zone(name):
    """The ZoneInfo of a name is_time_zone accepted."""
    return zoneinfo.ZoneInfo(name)


def unknown_zone_message(name):
    return gettext("Unknown time zone %(name)s: give an IANA name such as Asia/Almaty, Europe/Moscow or UTC.",
                   name=repr(name))
