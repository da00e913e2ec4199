"""The shapes Windows events take once exported to JSON, each turned into the EVTX parser's fields.

Shapes recognised (the first that fits an object wins):

``evtx_dump``      ``{"Event": {"System": ..., "EventData": ...}}`` (omerbenamram/evtx ``evtx_dump -o jsonl``)
``velociraptor``   ``{"System": {...}, "EventData": {...}, "Message": ...}`` (``parse_evtx()``), or the
                   flat hunter rows ``{"EventTime", "Channel", "EventID", "EventData": {...}}``
``winlogbeat``     ``{"@timestamp", "winlog": {"event_id", "channel", "event_data": {...}}, "message"}``
``splunk``         ``{"result": {...}}`` rows, or flat ``{"_raw", "EventCode", ...}``; an XML ``_raw``
                   (``XmlWinEventLog``) is read as the event itself
``powershell``     ``Get-WinEvent | ConvertTo-Json``: ``{"Id", "ProviderName", "LogName", "Properties"}``
``flat``           one object of EventData names beside System names (OTRF Security-Datasets, HELK):
                   ``{"EventID", "Channel", "SourceName", "Hostname", "@timestamp", "Image", ...}``

Each shape's own names for the System fields are mapped to ``EventID``, ``Provider_Name``,
``Channel``, ``Computer``, ``Level``, ``Task``, ``Keywords``, ``EventRecordID``, ``TimeCreated``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from typing import Any

from exhunt.parsers.winevent import (
    event_data,
    finish_message,
    flatten_event,
    iso_utc,
    system_fields,
    text,
    to_int,
    user_data,
)

Fields = dict[str, Any]

LEVEL_NAMES = {"critical": 1, "error": 2, "warning": 3, "information": 4, "informational": 4, "info": 4,
               "verbose": 5}

# the names exports give the System fields, by our name (first present wins)
_FLAT_SYSTEM: dict[str, tuple[str, ...]] = {
    "EventID": ("EventID", "EventId", "event_id", "EventCode", "Id"),
    "Provider_Name": ("Provider_Name", "ProviderName", "SourceName", "source_name", "provider_name",
                      "Provider", "SourceModuleName"),
    "Channel": ("Channel", "channel", "LogName", "log_name"),
    "Computer": ("Computer", "Hostname", "host_name", "computer_name", "ComputerName", "MachineName", "host"),
    "Level": ("Level", "level"),
    "Task": ("Task", "task"),
    "Keywords": ("Keywords", "keywords"),
    "EventRecordID": ("EventRecordID", "RecordNumber", "record_number", "RecordId", "record_id"),
    "TimeCreated": ("TimeCreated", "@timestamp", "EventTime", "_time", "timestamp", "TimeGenerated"),
    "Message": ("Message", "message", "_raw"),
}
_FLAT_EVENT_ID = ("EventID", "EventId", "event_id", "EventCode")  # "Id" alone is too common a key
_SYSTEM_ALIASES = {alias for aliases in _FLAT_SYSTEM.values() for alias in aliases}
# Splunk's classic (non-XML) field extractions for process creation, renamed to the EventData names
_SPLUNK_NAMES = {"New_Process_Name": "NewProcessName", "Process_Command_Line": "CommandLine",
                 "Creator_Process_Name": "ParentProcessName", "New_Process_ID": "NewProcessId",
                 "Creator_Process_ID": "ProcessId"}
_XML_NS = "{http://schemas.microsoft.com/win/2004/08/events/event}"


def _level(value: Any) -> int | None:
    number = to_int(value)
    if number is None and isinstance(value, str):
        return LEVEL_NAMES.get(value.strip().lower())
    return number


def _first(obj: Mapping[str, Any], names: tuple[str, ...]) -> Any:
    for name in names:
        if name in obj:
            return obj[name]
    return None


def _system_from(obj: Mapping[str, Any], fields: Fields) -> None:
    """System fields from an export's own top-level names."""
    for ours, names in _FLAT_SYSTEM.items():
        value = _first(obj, names)
        if value is None:
            continue
        if ours == "EventID" or ours == "EventRecordID":
            number = to_int(value)
            if number is not None:
                fields[ours] = number
        elif ours == "Level":
            level = _level(value)
            if level is not None:
                fields[ours] = level
        elif ours == "TimeCreated":
            stamp = iso_utc(value)
            if stamp is not None:
                fields[ours] = stamp
        else:
            fields[ours] = text(value)


def _rest(obj: Mapping[str, Any], fields: Fields, skip: frozenset[str] = frozenset()) -> None:
    """Every other key is event data: scalars as text, nested objects by their leaf names."""
    for name, value in obj.items():
        if name in _SYSTEM_ALIASES or name in skip or name in fields:
            continue
        if isinstance(value, dict):
            user_data(value, fields, name)
        else:
            fields[name] = value if type(value) is str or value is None else text(value)


def from_evtx_dump(obj: Mapping[str, Any]) -> Fields:
    return flatten_event(obj["Event"])


def from_velociraptor(obj: Mapping[str, Any]) -> Fields:
    fields: Fields = {}
    system = obj.get("System")
    if isinstance(system, dict):
        system_fields(system, fields)
    else:
        _system_from(obj, fields)
    return _body(fields, obj.get("Message"), obj.get("EventData"), obj.get("UserData"))


def _body(fields: Fields, message: Any, data: Any, user: Any) -> Fields:
    """The rendered message, EventData and UserData of an export, then the message fallback."""
    if message is not None:
        fields["Message"] = text(message)
    event_data(data, fields)
    if user is not None:
        user_data(user, fields)
    finish_message(fields)
    return fields


def from_winlogbeat(obj: Mapping[str, Any]) -> Fields:
    winlog: Mapping[str, Any] = obj["winlog"]
    fields: Fields = {}
    event_id = to_int(winlog.get("event_id"))
    if event_id is None and isinstance(obj.get("event"), dict):
        event_id = to_int(obj["event"].get("code"))
    if event_id is not None:
        fields["EventID"] = event_id
    for ours, theirs in (("Provider_Name", "provider_name"), ("Channel", "channel"),
                         ("Computer", "computer_name"), ("Task", "task"), ("Keywords", "keywords")):
        if winlog.get(theirs) is not None:
            fields[ours] = text(winlog[theirs])
    record_id = to_int(winlog.get("record_id"))
    if record_id is not None:
        fields["EventRecordID"] = record_id
    log = obj.get("log")
    level = _level(log.get("level")) if isinstance(log, dict) else None
    if level is not None:
        fields["Level"] = level
    stamp = iso_utc(obj.get("@timestamp"))
    if stamp is not None:
        fields["TimeCreated"] = stamp
    user = winlog.get("user")
    if isinstance(user, dict) and user.get("identifier"):
        fields["SecurityUserID"] = text(user["identifier"])
    return _body(fields, obj.get("message"), winlog.get("event_data"), winlog.get("user_data"))


def from_splunk(obj: Mapping[str, Any]) -> Fields:
    row: Mapping[str, Any] = obj["result"] if isinstance(obj.get("result"), dict) else obj
    raw = row.get("_raw")
    if isinstance(raw, str) and raw.lstrip().startswith("<Event"):
        event = xml_event(raw)
        if event is not None:
            return flatten_event(event)
    fields: Fields = {}
    _system_from(row, fields)
    for theirs, ours in _SPLUNK_NAMES.items():
        if row.get(theirs) is not None:
            fields[ours] = text(row[theirs])
    _rest({k: v for k, v in row.items() if not k.startswith("_") and k not in _SPLUNK_NAMES}, fields)
    finish_message(fields)
    return fields


def from_powershell(obj: Mapping[str, Any]) -> Fields:
    fields: Fields = {}
    _system_from(obj, fields)
    props = obj.get("Properties")
    if isinstance(props, list):
        fields["Data"] = " ".join(t for t in (text(p) for p in props) if t is not None)
    finish_message(fields)
    return fields


def from_flat(obj: Mapping[str, Any]) -> Fields:
    fields: Fields = {}
    _system_from(obj, fields)
    nested = obj.get("event_data")
    if isinstance(nested, dict):
        event_data(nested, fields)
    _rest(obj, fields, frozenset({"event_data"}))
    finish_message(fields)
    return fields


def shape_of(obj: Any) -> tuple[str, Callable[[Mapping[str, Any]], Fields]] | None:
    """The shape of one exported object, with the function reading it; None when not an event."""
    if not isinstance(obj, dict):
        return None
    if isinstance(obj.get("_source"), dict):  # an Elasticsearch hit: the event is its source
        return shape_of(obj["_source"])
    if isinstance(obj.get("Event"), dict):
        return "evtx_dump", from_evtx_dump
    if isinstance(obj.get("System"), dict) or isinstance(obj.get("EventData"), dict):
        return "velociraptor", from_velociraptor
    if isinstance(obj.get("winlog"), dict):
        return "winlogbeat", from_winlogbeat
    if isinstance(obj.get("result"), dict) or "_raw" in obj or "EventCode" in obj:
        return "splunk", from_splunk
    if "Id" in obj and "ProviderName" in obj and "Properties" in obj:
        return "powershell", from_powershell
    if any(name in obj for name in _FLAT_EVENT_ID):
        return "flat", from_flat
    return None


def unwrap(obj: Any) -> Any:
    """An Elasticsearch hit's ``_source``; anything else unchanged."""
    if isinstance(obj, dict) and isinstance(obj.get("_source"), dict):
        return obj["_source"]
    return obj


def xml_event(raw: str) -> dict[str, Any] | None:
    """An ``<Event>`` XML text as the evtx JSON structure; None when unreadable.

    Documents with a DTD are refused: an event never carries one, and entities are an expansion risk.
    """
    if "<!DOCTYPE" in raw or "<!ENTITY" in raw:
        return None
    try:
        root = ET.fromstring(raw)
    except ET.ParseError:
        return None
    event: dict[str, Any] = {}
    for part in root:
        tag = part.tag.removeprefix(_XML_NS)
        if tag == "System":
            event["System"] = {child.tag.removeprefix(_XML_NS): _xml_node(child) for child in part}
        elif tag == "EventData":
            named: dict[str, Any] = {}
            unnamed: list[str] = []
            for item in part:
                name = item.get("Name")
                if name:
                    named[name] = item.text
                else:
                    unnamed.append(item.text or "")
            if unnamed:
                named["Data"] = unnamed
            event["EventData"] = named
        elif tag == "UserData":
            event["UserData"] = {child.tag.removeprefix(_XML_NS): _xml_tree(child) for child in part}
    return event


def _xml_node(node: ET.Element) -> Any:
    if node.attrib:
        return {"#attributes": dict(node.attrib), "#text": node.text}
    return node.text


def _xml_tree(node: ET.Element) -> Any:
    children = list(node)
    if not children:
        return node.text
    return {child.tag.split("}")[-1]: _xml_tree(child) for child in children}
