"""File-rule globs: case-insensitive, '**' across folders, alternatives and named lists."""

from __future__ import annotations

import pytest

from exhunt.detectors.files.globs import GlobError, compile_globs

EXCHANGE = "C/Program Files/Microsoft/Exchange Server/V15"


@pytest.mark.parametrize(("glob", "path", "expected"), [
    ("**/FrontEnd/HttpProxy/{owa,ecp}/auth/**", f"{EXCHANGE}/FrontEnd/HttpProxy/owa/auth/x.aspx", True),
    ("**/FrontEnd/HttpProxy/{owa,ecp}/auth/**", "D/Ex/V15/frontend/httpproxy/ECP/AUTH/a/b.aspx", True),
    ("**/FrontEnd/HttpProxy/{owa,ecp}/auth/**", f"{EXCHANGE}/FrontEnd/HttpProxy/ews/auth/x.aspx", False),
    ("**/lsass*.dmp", "lsass.dmp", True),
    ("**/lsass*.dmp", "C/Windows/Temp/LSASS_624.DMP", True),
    ("**/lsass*.dmp", "C/lsass/other.dmp", False),
    ("?/*", "C/x.dmp", True),
    ("?/*", "C/Windows/x.dmp", False),
    ("?/ProgramData/**", "C/ProgramData/a/b/c.zip", True),
    ("?/ProgramData/**", "C/Users/ProgramData/c.zip", False),
    ("a/{b,{c,d}e}/f", "a/de/f", True),
    ("a.b", "aXb", False),
])
def test_glob(glob: str, path: str, expected: bool) -> None:
    assert bool(compile_globs([glob]).match(path)) is expected


def test_named_list() -> None:
    pattern = compile_globs(["**/owa/auth/${pages}"], {"pages": ["logon.aspx", "errorFE.aspx"]})
    assert pattern.match("C/x/owa/auth/Logon.aspx")
    assert pattern.match("C/x/owa/auth/errorfe.ASPX")
    assert not pattern.match("C/x/owa/auth/Current/logon.aspx")
    assert not pattern.match("C/x/owa/auth/logon.aspx.bak")


@pytest.mark.parametrize("glob", ["", "a/{b,c", "a/b}", "${missing}"])
def test_bad_globs(glob: str) -> None:
    with pytest.raises(GlobError):
        compile_globs([glob], {})
