"""A self-contained HTML report. Every value from the evidence is escaped (autoescape); no script, no
external resource, and a content security policy that forbids both."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TextIO

import orjson

from exhunt.model.result import HostResult
from exhunt.report.base import Reporter

if TYPE_CHECKING:
    from jinja2 import Environment


def _environment() -> Environment:
    from jinja2 import Environment, PackageLoader, select_autoescape  # only when HTML is asked for

    return Environment(loader=PackageLoader("exhunt.report", "templates"),
                       autoescape=select_autoescape(default=True, default_for_string=True),
                       trim_blocks=False, lstrip_blocks=False, keep_trailing_newline=True)


def _view(result: HostResult) -> dict[str, Any]:
    data = result.to_dict()
    data["exposure_text"] = orjson.dumps(result.exposure, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()
    return data


class HtmlReporter(Reporter):
    name = "html"
    description = "self-contained HTML report (evidence escaped, no scripts)"

    def write(self, results: list[HostResult], out: TextIO) -> None:
        template = _environment().get_template("report.html.j2")
        out.write(template.render(results=[_view(r) for r in results], tlp=self.settings.tlp_label))
