"""One Windows event as flat fields, whatever shape it arrived in.

Both the EVTX parser and the JSON-export parser end here, so one Sigma field-mapping pipeline serves
both. The field names are those Windows itself writes and Sigma rules expect:

* the ``EventData`` items by their ``Name`` (``Image``, ``CommandLine``, ``TargetUserName`` ...);
* ``UserData`` leaves by their element name (the innermost name; a later leaf whose name is already
  taken keeps its dotted path);
* unnamed ``Data`` items (classic providers: MSExchange, Application errors) joined with a space under
  ``Data``, and the same text under ``Message`` when the source carried no rendered message, so a rule
  can match the words an analyst sees in Event Viewer (``Set-OabVirtualDirectory``,
  ``System.InvalidCastException``) in an EVTX file and in an export alike;
* the System fields ``EventID`` (int), ``Provider_Name``, ``Channel``, ``Computer``, ``Level`` (int),
  ``Task``, ``Keywords``, ``EventRecordID`` (int), ``TimeCreated`` (ISO 8601 UTC) and
  ``SecurityUserID`` when present.

Values are kept as text (numbers rendered as Windows renders them), ``None`` when the event says
nothing (``<Data Name="X"/>``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

SYSTEM_FIELDS = ("EventID", "Provider_Name", "Channel", "Computer", "Level", "Task", "Keywords",
                 "EventRecordID", "TimeCreated", "SecurityUserID")
_ATTRS = "#attributes"
_TEXT = "#text"


def text(value: Any) -> str | None:
    """A scalar as the text Windows would show; ``None`` stays ``None``."""
    if value is None or type(value) is str:
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return text(value.get(_TEXT, value.get("Value")))
    if isinstance(value, list):
        return " ".join(t for t in (text(v) for v in value) if t is not None)
    return str(value)


def to_int(value: Any) -> int | None:
    if type(value) is int:
        return value
    if isinstance(value, dict):
        value = value.get(_TEXT, value.get("Value"))
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        stripped = value.strip()
        try:
            return int(stripped, 16) if stripped[:2].lower() == "0x" else int(stripped)
        except ValueError:
            return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def iso_utc(value: Any) -> str | None:
    """Normalise a timestamp to ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (UTC); None when it is not one.

    Accepts EVTX ``SystemTime`` (nanoseconds, ``Z``), ISO strings with or without ``T``, fraction or
    offset, and epoch seconds (Velociraptor) as numbers or numeric strings.
    """
    if type(value) is str:
        return _iso_text(value)
    if isinstance(value, dict):
        inner = value.get(_ATTRS)
        value = inner.get("SystemTime") if isinstance(inner, dict) else value.get("SystemTime")
        return iso_utc(value) if value is not None and not isinstance(value, dict) else None
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(float(value), tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        except (OverflowError, OSError, ValueError):
            return None
    return _iso_text(value) if isinstance(value, str) else None


def _iso_text(value: str) -> str | None:
    stamp = value.strip()
    # fast path: 2021-11-19T16:52:33.833733500Z (EVTX), 2021-03-14T01:40:13.660Z (exports)
    if len(stamp) >= 20 and stamp[10] == "T" and stamp[-1] == "Z" and stamp[19:20] in (".", "Z"):
        frac = stamp[20:-1] if stamp[19] == "." else ""
        if frac.isdigit() or not frac:
            return f"{stamp[:19]}.{(frac + '000000')[:6]}Z"
    if stamp.startswith("/Date(") and stamp.endswith(")/"):  # PowerShell ConvertTo-Json: milliseconds
        digits = stamp[6:-2].split("+")[0].split("-")[0]
        return iso_utc(int(digits) / 1000) if digits.isdigit() else None
    stamp = stamp.removesuffix(" UTC")
    if stamp.replace(".", "", 1).isdigit():
        return iso_utc(float(stamp))
    try:
        parsed = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _attr(node: Any, name: str) -> Any:
    """``node[#attributes][name]`` (evtx JSON) or ``node[name]`` (Velociraptor), else None."""
    if not isinstance(node, dict):
        return None
    attrs = node.get(_ATTRS)
    if isinstance(attrs, dict) and name in attrs:
        return attrs[name]
    return node.get(name)


_TEXT_SYSTEM_FIELDS = ("Channel", "Computer", "Task", "Keywords")
_INT_SYSTEM_FIELDS = ("Level", "EventRecordID")


def _put_int(fields: dict[str, Any], key: str, value: Any) -> None:
    """Integers as the crate writes them, anything else through the general converter."""
    if type(value) is int:
        fields[key] = value
    elif value is not None and (number := to_int(value)) is not None:
        fields[key] = number


def system_fields(system: Mapping[str, Any], fields: dict[str, Any]) -> None:
    """Add the System fields of an event (evtx JSON or Velociraptor shape) to ``fields``.

    Written for speed (every EVTX record passes here): the types the evtx crate writes are tested
    first, anything else goes through the general converters.
    """
    get = system.get
    _put_int(fields, "EventID", get("EventID"))
    provider = get("Provider")
    if type(provider) is dict:
        attrs = provider.get(_ATTRS)
        name = attrs.get("Name") if type(attrs) is dict else provider.get("Name")
        if name is not None:
            fields["Provider_Name"] = name if type(name) is str else text(name)
    for key in _TEXT_SYSTEM_FIELDS:
        value = get(key)
        if value is not None:
            fields[key] = value if type(value) is str else text(value)
    for key in _INT_SYSTEM_FIELDS:
        _put_int(fields, key, get(key))
    value = get("TimeCreated")
    if type(value) is dict:
        attrs = value.get(_ATTRS)
        value = attrs.get("SystemTime") if type(attrs) is dict else value.get("SystemTime")
    if type(value) is str and len(value) >= 27 and value[10] == "T" and value[19] == "." and value[-1] == "Z":
        fields["TimeCreated"] = value[:26] + "Z"  # the crate's SystemTime: 7 or 9 fraction digits
    elif value is not None and (created := iso_utc(value)) is not None:
        fields["TimeCreated"] = created
    security = get("Security")
    if security is not None:
        user = _attr(security, "UserID")
        if user is not None:
            fields["SecurityUserID"] = user if type(user) is str else text(user)


def event_data(data: Any, fields: dict[str, Any]) -> None:
    """Add ``EventData`` items: named ones by name, unnamed ones joined under ``Data``."""
    if data is None:
        return
    if type(data) is not dict:
        _unnamed(data, fields)
        return
    for name, value in data.items():
        if type(value) is str and name not in fields and name != _TEXT:  # the common case: named text
            fields[name] = value
            continue
        if name == _ATTRS:
            continue
        if name == "Data" or name == _TEXT:
            _unnamed(value, fields)
            continue
        if name in fields:  # never hide a System field: the clashing item keeps its path
            name = f"EventData.{name}"
        fields[name] = value if type(value) is str or value is None else text(value)


def _unnamed(value: Any, fields: dict[str, Any]) -> None:
    if isinstance(value, dict):
        value = value.get(_TEXT)
    joined = text(value)
    if joined is None:
        return
    fields["Data"] = f"{fields['Data']} {joined}" if "Data" in fields else joined


def user_data(data: Any, fields: dict[str, Any], prefix: str = "UserData") -> None:
    """Add ``UserData`` leaves (element text and attributes, ``xmlns`` aside) by their innermost name.

    A name already taken keeps its dotted path (``UserData.LogFileCleared.Channel``); repeated elements
    under one path are joined with a space.
    """
    if isinstance(data, list):
        for item in data:
            user_data(item, fields, prefix)
        return
    if not isinstance(data, dict):
        if data is not None:
            _leaf(fields, prefix, text(data))
        return
    for name, value in data.items():
        if name == _ATTRS:
            if isinstance(value, dict):
                for attr, attr_value in value.items():
                    if not attr.startswith("xmlns"):
                        _leaf(fields, f"{prefix}.{attr}", text(attr_value))
        elif name == _TEXT:
            _leaf(fields, prefix, text(value))
        else:
            user_data(value, fields, f"{prefix}.{name}")


def _leaf(fields: dict[str, Any], path: str, value: str | None) -> None:
    key = path.rsplit(".", 1)[-1]
    if key in fields:
        key = path
        if key in fields:
            fields[key] = f"{fields[key] or ''} {value or ''}".strip()
            return
    fields[key] = value


def finish_message(fields: dict[str, Any]) -> None:
    """Without a rendered message, unnamed data is the event's text: expose it as ``Message`` too."""
    if "Message" not in fields and "Data" in fields:
        fields["Message"] = fields["Data"]


def flatten_event(event: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of one event given as the ``Event`` object of evtx JSON (or Velociraptor's shape)."""
    fields: dict[str, Any] = {}
    system = event.get("System")
    if isinstance(system, dict):
        system_fields(system, fields)
    data = event.get("EventData")
    if data is not None:
        event_data(data, fields)
    extra = event.get("UserData")
    if extra is not None:
        user_data(extra, fields)
    finish_message(fields)
    return fields
