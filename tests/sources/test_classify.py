"""Artifact classification: by path pattern, case-insensitively, Exchange install found by content."""

from __future__ import annotations

from pathlib import Path

from exhunt.model.evidence import ArtifactKind
from exhunt.sources.base import FileEntry
from exhunt.sources.classify import classify, classify_entry, evtx_channel, find_exchange_roots
from exhunt.sources.directory import DirectoryTree


def kind(path: str) -> ArtifactKind:
    return classify_entry(FileEntry(path, 1), None).kind


def test_exchange_logs_by_folder() -> None:
    v15 = "C/Program Files/Microsoft/Exchange Server/V15"
    assert kind(f"{v15}/Logging/HttpProxy/Owa/HttpProxy_2021030304-1.LOG") is ArtifactKind.HTTPPROXY
    assert kind(f"{v15}/logging/httpproxy/ecp/httpproxy_2021030304-1.log") is ArtifactKind.HTTPPROXY
    assert kind(f"{v15}/Logging/ECP/Server/ECPServer2021030304-1.LOG") is ArtifactKind.ECP_SERVER
    assert kind(f"{v15}/Logging/ECP/Activity/ECPActivity2021030304-1.LOG") is ArtifactKind.ECP_ACTIVITY
    assert kind(f"{v15}/Logging/RpsHttp/Rps_Http_2021030304-1.LOG") is ArtifactKind.RPS_HTTP
    assert kind(f"{v15}/Logging/CmdletInfra/Others/Rps_Cmdlet_2021080804-1.LOG") is ArtifactKind.RPS_CMDLET
    assert kind(f"{v15}/Logging/OABGeneratorLog/OABGenerator20210303-1.LOG") is ArtifactKind.OABGENERATOR
    assert kind("C/inetpub/logs/LogFiles/W3SVC1/u_ex210303.log") is ArtifactKind.IIS
    assert kind("C/Windows/System32/winevt/Logs/Application.evtx") is ArtifactKind.EVTX
    assert kind("exports/security.jsonl") is ArtifactKind.JSON_EVENTS
    assert kind("C/inetpub/wwwroot/app/config.json") is ArtifactKind.FILE
    assert kind(f"{v15}/FrontEnd/HttpProxy/owa/auth/x.aspx") is ArtifactKind.FILE


def test_httpproxy_protocol_attribute() -> None:
    art = classify_entry(FileEntry("D/Ex/Logging/HttpProxy/Autodiscover/HttpProxy_1.LOG", 1), None)
    assert art.attr("protocol") == "Autodiscover"


def test_exchange_root_found_by_content_anywhere() -> None:
    roots = find_exchange_roots(["D/Apps/ExchSrv/V15/Logging/HttpProxy/Ecp/a.log", "E/X/bin/ExSetup.exe"])
    assert roots == ["D/Apps/ExchSrv/V15", "E/X"]


def test_exchange_path_override(tmp_path: Path) -> None:
    target = tmp_path / "D" / "Exch" / "Logging" / "OABGeneratorLog" / "OABGenerator1.LOG"
    target.parent.mkdir(parents=True)
    target.write_text("x")
    layout = classify(DirectoryTree(tmp_path), exchange_path="D:\\Exch")
    assert layout.exchange_root == "D/Exch"
    assert layout.artifacts[0].kind is ArtifactKind.OABGENERATOR


def test_evtx_channel_names() -> None:
    assert evtx_channel("x/Microsoft-Windows-Sysmon%4Operational.evtx") == "Microsoft-Windows-Sysmon/Operational"
    assert evtx_channel("MSExchange Management.evtx") == "MSExchange Management"


def test_ntfs_metadata_in_kape_and_velociraptor_layouts() -> None:
    from exhunt.sources.remap import velociraptor_path

    assert kind("C/$MFT") is ArtifactKind.MFT
    assert kind("D/$MFT") is ArtifactKind.MFT
    assert kind("C/$Extend/$J") is ArtifactKind.USN  # KAPE
    assert kind("C/$Extend/$UsnJrnl/$J") is ArtifactKind.USN
    velociraptor = velociraptor_path("uploads/ntfs/%5C%5C.%5CC%3A/$Extend/$UsnJrnl%3A$J")
    assert velociraptor == "C/$Extend/$UsnJrnl:$J" and kind(velociraptor) is ArtifactKind.USN
    assert kind(str(velociraptor_path("uploads/ntfs/%5C%5C.%5CC%3A/$MFT"))) is ArtifactKind.MFT
    assert kind("C/$Extend/$Max") is ArtifactKind.FILE
    assert kind("C/Users/a/$MFT.txt") is ArtifactKind.FILE
