"""Per-host exposure: which build, which CVEs open, and since when, against the public exploitation dates.

Everything returned is plain JSON-able data (it lands in ``HostResult.exposure``), sorted and free of
wall-clock times, so the same input gives the same output.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from exhunt.exposure.builds import NEEDS_CONFIG, NOT_ASSESSED, OPEN, BuildInfo, BuildTable, CveStatus, load_table
from exhunt.exposure.campaigns import Family, load_families
from exhunt.exposure.config import EVIDENCE_FILES, NOT_IN_EVIDENCE, ConfigCheck
from exhunt.exposure.version import (
    Build,
    BuildObservation,
    ObservationLike,
    as_observation,
    normalise_build,
    parse_build,
)
from exhunt.exposure.windows import Segment, Window, build_at, days_between, history, stamp_key, windows


def describe_build(build: Build, table: BuildTable) -> dict[str, Any]:
    info = table.identify(build)
    return _build_dict(info)


def _build_dict(info: BuildInfo) -> dict[str, Any]:
    cu, up = info.cu, info.update
    return {
        "build": str(info.build),
        "product": info.product,
        "cu": cu.name if cu else None,
        "cu_build": str(cu.build) if cu else None,
        "cu_date": cu.date if cu else None,
        "su": up.name if up else None,
        "su_build": str(up.build) if up else None,
        "su_date": up.date if up else None,
        "label": info.label,
        "known": info.exact,
        "note": info.note,
    }


def family_exposed(build: Build, family: Family, table: BuildTable) -> bool | None:
    """True when every group of the family's chain has an open CVE at ``build``; None when unknown."""
    states = [[table.is_fixed(build, cve) for cve in group] for group in family.chain]
    if any(None in group for group in states):
        return None
    return all(any(fixed is False for fixed in group) for group in states)


def _families_of(cve: str, families: Sequence[Family]) -> list[str]:
    return sorted(f.id for f in families if cve in f.cves)


def _condition(table: BuildTable, cond_id: str, config: Mapping[str, ConfigCheck]) -> dict[str, Any]:
    cond = table.conditions[cond_id]
    check = config.get(cond.evidence) if cond.evidence else None
    if check is None:
        detail = (f"no {EVIDENCE_FILES.get(cond.evidence, cond.evidence)} in the evidence" if cond.evidence
                  else "not recorded in a collection of this kind")
        return {"id": cond_id, "text": cond.text, "seen": NOT_IN_EVIDENCE, "detail": detail, "path": None,
                "line": None}
    return {"id": cond_id, "text": cond.text, "seen": check.seen, "detail": check.detail, "path": check.path,
            "line": check.line}


def _cve_dict(state: CveStatus, table: BuildTable, families: Sequence[Family],
              config: Mapping[str, ConfigCheck]) -> dict[str, Any]:
    cve = table.cves[state.cve]
    out: dict[str, Any] = {"cve": state.cve, "title": cve.title, "families": _families_of(state.cve, families),
                           "status": state.status, "fixed_by": state.fixed_by, "fixed_from": state.fix_date,
                           "published": cve.published, "source": cve.source}
    if state.status == NEEDS_CONFIG:
        conds = [_condition(table, c, config) for c in state.needs]
        out["conditions"] = conds
        out["status_text"] = f"{NEEDS_CONFIG}: " + "; ".join(f"{c['text']} (seen: {c['seen']})" for c in conds)
    else:
        out["status_text"] = state.status
        if state.status == OPEN and cve.needs:  # the update alone will not close it
            out["after_update_needs"] = [table.conditions[c].text for c in cve.needs]
    return out


def _cve_sections(build: Build, table: BuildTable, families: Sequence[Family],
                  config: Mapping[str, ConfigCheck]) -> dict[str, Any]:
    """open / needs configuration / not assessed lists and counts for a build (None lists: build unknown)."""
    states = table.statuses(build)
    if states is None:
        return {"open_cves": None, "needs_configuration": None, "not_assessed": None, "status_counts": None}
    by_status: dict[str, list[dict[str, Any]]] = {OPEN: [], NEEDS_CONFIG: [], NOT_ASSESSED: []}
    patched = 0
    for state in states:
        if state.status in by_status:
            by_status[state.status].append(_cve_dict(state, table, families, config))
        else:
            patched += 1
    counts = {"open": len(by_status[OPEN]), "needs_configuration": len(by_status[NEEDS_CONFIG]),
              "not_assessed": len(by_status[NOT_ASSESSED]), "patched": patched}
    return {"open_cves": by_status[OPEN], "needs_configuration": by_status[NEEDS_CONFIG],
            "not_assessed": by_status[NOT_ASSESSED], "status_counts": counts}


def _summary(result: dict[str, Any], table: BuildTable) -> list[str]:
    """The answer in words, for any renderer: status counts, knowledge limits, the data's date."""
    lines: list[str] = []
    counts = result.get("status_counts")
    label = f"{result.get('label') or 'unknown build'} ({result.get('build')})"
    if counts is None:
        lines.append(f"{label}: exposure unknown (the build is not in the table)")
    else:
        unconfirmed = sum(1 for c in result["needs_configuration"]
                          if any(cond["seen"] != "yes" for cond in c["conditions"]))
        text = (f"{label}: {counts['open']} CVE(s) open; {counts['needs_configuration']} patched by build but "
                f"needing configuration ({unconfirmed} not confirmed by the evidence)")
        if counts["not_assessed"]:
            text += f"; {counts['not_assessed']} not assessed by Microsoft (out of support)"
        lines.append(text)
    for gap in result.get("gaps") or []:
        lines.append(f"incomplete: {gap}")
    lines.append(f"build table data to {table.data_cutoff} (CVEs fixed from {table.cves_from}): releases and CVEs "
                 "after that date are not known to it")
    return lines


def _window_dict(win: Window, family: Family) -> dict[str, Any]:
    out: dict[str, Any] = {
        "from": win.start,
        "exposed_before_evidence": win.open_start,
        "last_seen_exposed": win.last_seen,
        "until": win.end,
        "builds": list(win.builds),
    }
    exploited = family.first_exploited
    if stamp_key(win.last_seen)[:10] >= exploited:
        during = "yes"  # seen exposed on or after the first public exploitation
    elif win.end is None or stamp_key(win.end)[:10] >= exploited:
        during = "possible"  # patched at an unknown point between the last exposed and first fixed sighting
    else:
        during = "no"
    out["during_exploitation"] = during
    if during != "no":
        # an exposure already open at the first observation was open before it too (builds only go up)
        out["exploitation_overlap_from"] = exploited if win.open_start else max(win.start[:10], exploited)
        out["exploitation_overlap_until"] = win.end
    if win.end:
        late = days_between(family.patch_released, win.end)
        if late is not None and late >= 0:
            out["patched_days_after_release"] = late
    return out


def _family_summary(family: Family, exposed_now: bool | None, wins: list[dict[str, Any]],
                    has_history: bool) -> str:
    if exposed_now is None and not wins:
        return f"{family.name}: unknown (build not in the table)"
    parts: list[str] = []
    for win in wins:
        since = f"since before {win['from']}" if win["exposed_before_evidence"] else f"from {win['from']}"
        until = f"until {win['until']} (last seen exposed {win['last_seen_exposed']})" if win["until"] else \
            f"still exposed at the end of the evidence ({win['last_seen_exposed']})"
        during = {"yes": "; exposed during public exploitation",
                  "possible": "; possibly exposed during public exploitation"}.get(win["during_exploitation"], "")
        parts.append(f"exposed {since} {until}{during}")
    if not has_history:
        state = "exposed" if exposed_now else "not exposed"
        return f"{family.name}: {state} at this build (no build history to date it)"
    if not parts:
        return f"{family.name}: not exposed at any observed build"
    return f"{family.name}: " + "; ".join(parts)


def assess_exposure(observations: Sequence[ObservationLike], table: BuildTable | None = None,
                    user_build: str | None = None, families: Sequence[Family] | None = None,
                    config: Mapping[str, ConfigCheck] | None = None) -> dict[str, Any]:
    """Exposure of one host from its build observations (and/or a build given by the user).

    ``observations``: (timestamp, build, path) from ``#Version:`` log directives, ExSetup.exe and the like.
    ``user_build`` overrides the current build (the history still dates the windows). ``config``: conditions
    read from the evidence (``exhunt.exposure.config``), keyed by check. Returns plain data.
    """
    table = table or load_table()
    config = config or {}
    fams = list(families) if families is not None else load_families()
    notes: list[str] = []
    valid: list[BuildObservation] = []
    for obs in observations:
        norm = as_observation(obs)
        if norm is None:
            notes.append(f"ignored build value {obs.build!r} from {obs.path}: not an Exchange build number")
            continue
        valid.append(norm)
    segments = history(valid)
    undated = sorted({(o.build, o.path, o.source) for o in valid if not o.timestamp})

    current: str | None = None
    source: str | None = None
    if user_build:
        current = normalise_build(user_build)
        source = "user"
        if current is None:
            notes.append(f"the build given ({user_build!r}) is not an Exchange build number")
    if current is None and segments:
        current, source = segments[-1].build, "log-history"
    if current is None and undated:
        current, source = undated[-1][0], undated[-1][2]
    if segments and source == "user" and current != segments[-1].build:
        notes.append(f"the build given ({current}) differs from the last build seen in the logs "
                     f"({segments[-1].build} at {segments[-1].last_seen}); the given build is assessed")
    for build, path, src in undated:
        notes.append(f"build {build} from {path} ({src}) has no date: not part of the history")

    result: dict[str, Any] = {"build": current, "build_source": source}
    parsed = parse_build(current) if current else None
    if parsed is None:
        result.update({"product": None, "cu": None, "su": None, "open_cves": None, "needs_configuration": None,
                       "not_assessed": None, "status_counts": None, "families": [], "history": [],
                       "complete": False, "gaps": ["no Exchange build found: exposure cannot be assessed"],
                       "data": _data(table), "notes": [*notes, "no Exchange build found: exposure cannot be assessed"]})
        result["summary"] = _summary(result, table)
        return result
    result.update(describe_build(parsed, table))
    result["build_source"] = source
    result.update(_cve_sections(parsed, table, fams, config))
    result["gaps"] = table.gaps(parsed)
    result["complete"] = not result["gaps"]
    result["data"] = _data(table)
    result["support"] = _support(parsed, table)
    result["history"] = [_segment_dict(seg, table) for seg in segments]
    result["families"] = [_family_dict(fam, parsed, segments, table) for fam in fams]
    if not segments:
        notes.append("no dated build history (no Exchange log #Version headers in the evidence): the exposure "
                     "windows cannot be dated")
    notes.append("exposure ignores mitigations (URL Rewrite rules, Emergency Mitigation service): "
                 "a server shown open may have been mitigated")
    result["notes"] = notes
    result["summary"] = _summary(result, table)
    return result


def _data(table: BuildTable) -> dict[str, Any]:
    return {"cutoff": table.data_cutoff, "cves_from": table.cves_from, "sources": list(table.sources)}


def _support(build: Build, table: BuildTable) -> dict[str, Any] | None:
    info = table.identify(build)
    support = table.support.get(info.product_key or "")
    if support is None:
        return None
    return {"product": support.name, "ended": support.ended, "note": support.note}


def _segment_dict(seg: Segment, table: BuildTable) -> dict[str, Any]:
    parsed = parse_build(seg.build)
    label = table.identify(parsed).label if parsed else seg.build
    return {"build": seg.build, "label": label, "first_seen": seg.first_seen, "last_seen": seg.last_seen,
            "observations": seg.observations, "paths": list(seg.paths)}


def _family_dict(fam: Family, current: Build, segments: Sequence[Segment], table: BuildTable) -> dict[str, Any]:
    def holds(build: str) -> bool | None:
        parsed = parse_build(build)
        return family_exposed(parsed, fam, table) if parsed else None

    exposed_now = family_exposed(current, fam, table)
    wins, unknown = windows(segments, holds)
    win_dicts = [_window_dict(w, fam) for w in wins]
    open_now = [c for c in fam.cves if table.is_fixed(current, c) is False]
    return {
        "id": fam.id,
        "name": fam.name,
        "cves": list(fam.cves),
        "open_cves": open_now,
        "exposed_now": exposed_now,
        "windows": win_dicts,
        "history_has_unknown_builds": unknown,
        "exposed_during_exploitation": _during(win_dicts, segments, exposed_now),
        "timeline": {"patch_released": fam.patch_released, "disclosed": fam.disclosed,
                     "first_exploited": fam.first_exploited, "mass_exploitation": fam.mass_exploitation},
        "summary": _family_summary(fam, exposed_now, win_dicts, bool(segments)),
    }


def _during(wins: list[dict[str, Any]], segments: Sequence[Segment], exposed_now: bool | None) -> str:
    """'yes', 'possible', 'no' or 'unknown' (no history: the current build alone cannot be dated)."""
    states = {w["during_exploitation"] for w in wins}
    if "yes" in states:
        return "yes"
    if "possible" in states:
        return "possible"
    if not segments:
        return "unknown"
    return "no"


def patched_at(build_history: Sequence[ObservationLike], cve: str, when: str,
               table: BuildTable | None = None) -> bool | None:
    """Was the server patched for ``cve`` at time ``when`` (ISO 8601)?

    True: the build running then carries the fix (an exploitation finding then is an attempt); False: the
    CVE was open (a finding then is a likely compromise); None: no dated history, unknown build or CVE, or
    ``when`` is before the evidence and the first build seen is already fixed (it may have been patched later).
    """
    table = table or load_table()
    valid = [n for o in build_history if (n := as_observation(o)) is not None]
    build, before = build_at(history(valid), when)
    parsed = parse_build(build) if build else None
    if parsed is None:
        return None
    fixed = table.is_fixed(parsed, cve)
    if before and fixed:
        return None  # builds only go up: an earlier, older build may still have been open
    return fixed


def exposed_at(build_history: Sequence[ObservationLike], family_id: str, when: str,
               table: BuildTable | None = None) -> bool | None:
    """Was the family's whole chain open at ``when``? Same conventions as ``patched_at`` (inverted)."""
    table = table or load_table()
    fam = next((f for f in load_families() if f.id == family_id), None)
    if fam is None:
        return None
    valid = [n for o in build_history if (n := as_observation(o)) is not None]
    build, before = build_at(history(valid), when)
    parsed = parse_build(build) if build else None
    if parsed is None:
        return None
    state = family_exposed(parsed, fam, table)
    if before and state is False:
        return None
    return state
