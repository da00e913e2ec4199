"""Conditions read from IIS applicationHost.config: Extended Protection and TokenCacheModule (synthetic files)."""

from __future__ import annotations

import pytest

from exhunt.exposure.config import EP_CHECK, TOKENCACHE_CHECK, ConfigError, is_apphost, read_apphost

PATH = "C/Windows/System32/inetsrv/config/applicationHost.config"


def _vdir(site_vdir: str, token: str | None) -> str:
    ep = f'<extendedProtection tokenChecking="{token}" />' if token else ""
    return (f'<location path="{site_vdir}" overrideMode="Allow"><system.webServer><security><authentication>'
            f'<windowsAuthentication enabled="true" useKernelMode="false">{ep}'
            '</windowsAuthentication></authentication></security></system.webServer></location>\n')


def _config(vdirs: str, tokencache: bool = True) -> bytes:
    module = '<add name="TokenCacheModule" image="%windir%\\System32\\inetsrv\\cachtokn.dll" />' if tokencache else ""
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<!-- synthetic applicationHost.config for tests -->\n'
            '<configuration>\n<system.webServer>\n<globalModules>\n'
            '<add name="UriCacheModule" image="%windir%\\System32\\inetsrv\\cachuri.dll" />\n'
            f'{module}\n</globalModules>\n</system.webServer>\n{vdirs}</configuration>\n').encode()


ON = (_vdir("Default Web Site/ecp", "Require") + _vdir("Default Web Site/EWS", "Allow")
      + _vdir("Exchange Back End/PowerShell", "Require") + _vdir("Default Web Site/Autodiscover", None))


def test_extended_protection_on() -> None:
    checks = read_apphost(_config(ON), PATH)
    ep = checks[EP_CHECK]
    assert ep.seen == "yes" and "all 3" in ep.detail and ep.path == PATH and ep.line


def test_extended_protection_off_names_the_vdirs_and_line() -> None:
    checks = read_apphost(_config(ON + _vdir("Default Web Site/owa", "None") + _vdir("Default Web Site/mapi", None)),
                          PATH)
    ep = checks[EP_CHECK]
    assert ep.seen == "no" and "Default Web Site/owa (None)" in ep.detail and "2 of 5" in ep.detail
    assert ep.line is not None and ep.line > 8


def test_no_exchange_vdirs_is_not_in_evidence() -> None:
    checks = read_apphost(_config(_vdir("Default Web Site/intranet", "None")), PATH)
    assert checks[EP_CHECK].seen == "not in evidence"


def test_tokencache() -> None:
    loaded = read_apphost(_config(ON), PATH)[TOKENCACHE_CHECK]
    assert loaded.seen == "not in evidence" and "still loaded" in loaded.detail and loaded.line == 7
    removed = read_apphost(_config(ON, tokencache=False), PATH)[TOKENCACHE_CHECK]
    assert removed.seen == "yes"


@pytest.mark.parametrize("data", [
    b'<?xml version="1.0"?><!DOCTYPE c [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><configuration>&b;</configuration>',
    b"<configuration><location path='x'>",
    b"\xff\xfe\x00garbage",
])
def test_hostile_or_damaged_files_are_refused(data: bytes) -> None:
    with pytest.raises(ConfigError):
        read_apphost(data, PATH)


def test_oversized_file_is_refused() -> None:
    from exhunt.exposure.config import MAX_CONFIG_BYTES

    with pytest.raises(ConfigError, match="larger than"):
        read_apphost(b" " * (MAX_CONFIG_BYTES + 1), PATH)


def test_is_apphost() -> None:
    assert is_apphost(PATH) and is_apphost("host1/c/windows/system32/inetsrv/config/applicationhost.config")
    assert not is_apphost("C/inetpub/wwwroot/web.config")


def test_fipfs_outside_in_override() -> None:
    from exhunt.exposure.config import FIPFS_CHECK, is_fipfs_config, read_fipfs

    path = "C/Program Files/Microsoft/Exchange Server/V15/FIP-FS/Data/Configuration.xml"
    assert is_fipfs_config(path)
    # synthetic fragments: one with an entry re-enabled by the |NO flag, one without
    flagged = read_fipfs(b"<Configuration>\n<Engine>\n<Module>OutsideInModule.dll|NO</Module>\n</Engine>\n", path)
    assert flagged[FIPFS_CHECK].seen == "no" and flagged[FIPFS_CHECK].line == 3
    clean = read_fipfs(b"<Configuration>\n<Engine>\n<Module>OutsideInModule.dll</Module>\n</Engine>\n", path)
    assert clean[FIPFS_CHECK].seen == "yes"


def test_evidence_text_in_details_cannot_carry_terminal_codes() -> None:
    # ESC/BEL are not XML characters (expat refuses the file); direction overrides and C1 codes are
    hostile = _vdir("Default Web Site/owa/x\u202eexe.gnp\x9b31m", "None")
    detail = read_apphost(_config(hostile), PATH)[EP_CHECK].detail
    assert "\u202e" not in detail and "\x9b" not in detail
    assert "\\u202e" in detail and "\\x9b" in detail
    with pytest.raises(ConfigError):
        read_apphost(_config(_vdir("Default Web Site/owa\x1b]0;t\x07", "None")), PATH)
