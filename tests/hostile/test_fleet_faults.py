"""Fault injection in a fleet scan (#14): a worker killed, Ctrl-C, the parent killed. Finished hosts are kept
(store and output), a dead worker's host is retried once, and a resumed run ends with the same output as a run
that was never interrupted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest

from exhunt.content.bundle import ContentSpec
from exhunt.fleet import local, store
from exhunt.fleet.local import HostJob, run_jobs
from exhunt.model.result import HostResult
from hostilefixtures import hosts, jsonl, make_host, scan

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses fork and /proc")


def _fleet(tmp_path: Path, count: int) -> list[Path]:
    return [make_host(tmp_path / f"ex{n:02d}") for n in range(1, count + 1)]


def _jobs(paths: list[Path]) -> list[HostJob]:
    return [job for path in paths for job in local.host_jobs(path)]


def _plain(results: list[HostResult]) -> list[dict[str, Any]]:
    return [r.to_dict() for r in results]


def _killing(victim: str, marker: Path | None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers (forked) kill themselves while assessing ``victim``: once when ``marker`` is given (the
    marker file says the first attempt happened), every time otherwise."""
    real = local.assess_host

    def assess(tree, *args, **kwargs):  # type: ignore[no-untyped-def]
        if tree.name == victim and (marker is None or not marker.exists()):
            if marker is not None:
                marker.touch()
            os.kill(os.getpid(), signal.SIGKILL)
        return real(tree, *args, **kwargs)

    monkeypatch.setattr(local, "assess_host", assess)


@linux_only
def test_a_killed_worker_costs_nothing_its_host_is_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = _jobs(_fleet(tmp_path, 3))
    serial = run_jobs(work, ContentSpec(), {})
    _killing("ex02", tmp_path / "killed-once", monkeypatch)
    seen: list[str] = []
    pooled = run_jobs(work, ContentSpec(), {}, jobs=2, on_host=lambda r: seen.append(r.host))
    assert (tmp_path / "killed-once").exists()
    assert _plain(pooled) == _plain(serial) and sorted(seen) == ["ex01", "ex02", "ex03"]


@linux_only
def test_a_host_that_kills_its_worker_twice_is_reported_failed(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    work = _jobs(_fleet(tmp_path, 3))
    serial = run_jobs(work, ContentSpec(), {})
    _killing("ex02", None, monkeypatch)
    pooled = run_jobs(work, ContentSpec(), {}, jobs=2)
    assert [r.host for r in pooled] == ["ex01", "ex02", "ex03"]
    assert _plain([pooled[0], pooled[2]]) == _plain([serial[0], serial[2]])
    failed = pooled[1]
    assert failed.verdict.value == "could not assess"
    assert [w.code for w in failed.coverage.warnings] == ["worker-died"]


def _store_hosts(path: Path) -> list[tuple[str, str]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute("select host, verdict from hosts order by host").fetchall()
    finally:
        con.close()


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_ctrl_c_keeps_finished_hosts_and_resume_completes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          jobs: str) -> None:
    fleet = _fleet(tmp_path, 4)
    full = tmp_path / "full.jsonl"
    assert scan(*fleet, "-j", jobs, "-f", "jsonl", "-o", full) == 1

    case, partial = tmp_path / "case.duckdb", tmp_path / "partial.jsonl"
    real = store.write_host
    written: list[str] = []

    def interrupted(con: Any, result: HostResult) -> None:
        real(con, result)
        written.append(result.host)
        if len(written) == 2:
            raise KeyboardInterrupt  # Ctrl-C, just after the second host was stored

    monkeypatch.setattr(store, "write_host", interrupted)
    assert scan(*fleet, "-j", jobs, "-f", "jsonl", "-o", partial, "--store", case) == 130
    monkeypatch.setattr(store, "write_host", real)
    kept = hosts(jsonl(partial))
    assert sorted(kept) == sorted(written) and len(kept) == 2  # the finished hosts, in the output ...
    assert [h for h, _ in _store_hosts(case)] == sorted(written)  # ... and in the store

    resumed = tmp_path / "resumed.jsonl"
    assert scan(*fleet, "-j", jobs, "-f", "jsonl", "-o", resumed, "--store", case, "--resume") == 1
    assert resumed.read_bytes() == full.read_bytes()
    assert [h for h, _ in _store_hosts(case)] == ["ex01", "ex02", "ex03", "ex04"]


def test_another_spelling_of_the_same_path_does_not_duplicate_rows(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    host = make_host(tmp_path / "ex01")
    case = tmp_path / "case.duckdb"
    assert scan(host, "--store", case, "-o", tmp_path / "a.txt") == 1
    monkeypatch.chdir(tmp_path)
    assert scan(Path("ex01/"), "--store", case, "-o", tmp_path / "b.txt") == 1
    assert scan(Path("./ex01/../ex01"), "--store", case, "-o", tmp_path / "c.txt") == 1
    assert _store_hosts(case) == [("ex01", "compromised")]
    con = duckdb.connect(str(case), read_only=True)
    try:
        assert con.execute("select count(distinct evidence), count(*) from results").fetchone() == (1, 1)
    finally:
        con.close()


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found |= {int(p) for p in (task / "children").read_text().split()}
        except OSError:
            continue
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _start(args: list[str], tmp_path: Path, progress: bool = False) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-c", "import sys; from exhunt.cli.main import main; sys.exit(main())",
               "scan", *([] if progress else ["--no-progress"]), *args]
    return subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _read_in_background(stream: Any) -> tuple[list[bytes], threading.Thread]:
    lines: list[bytes] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(stream.readline, b"")), daemon=True)
    reader.start()
    return lines, reader


def _ignores_sigint(pid: int) -> bool:
    """Whether ``pid`` ignores SIGINT: a fleet worker does once its start-up is done (``_worker_init``
    ignores it last, after binding the worker to its parent's life)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    ignored = next((line.split()[1] for line in status.splitlines() if line.startswith("SigIgn:")), "0")
    return bool(int(ignored, 16) >> (signal.SIGINT - 1) & 1)


def _wait_for_workers(process: subprocess.Popen[bytes], count: int, timeout: float = 120) -> set[int]:
    """The scan's pool workers, once ``count`` of them have finished starting (not merely been forked)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        ready = {pid for pid in _children(process.pid) if _ignores_sigint(pid)}
        if len(ready) >= count:
            return ready
        time.sleep(0.05)
    return set()


@linux_only
def test_a_real_sigint_stops_the_fleet_cleanly(tmp_path: Path) -> None:
    fleet = [str(p) for p in _fleet(tmp_path, 8)]
    case, out = tmp_path / "case.duckdb", tmp_path / "out.jsonl"
    # progress lines on stderr (not a terminal: one line per finished host) tell when the fleet is under way:
    # the signal is sent once the first host is done, in the middle of the fleet, not during start-up
    process = _start([*fleet, "-j", "2", "-f", "jsonl", "-o", str(out), "--store", str(case)], tmp_path,
                     progress=True)
    lines, reader = _read_in_background(process.stderr)
    workers = _wait_for_workers(process, 2)
    deadline = time.monotonic() + 300
    while process.poll() is None and time.monotonic() < deadline and not any(b"host 1/" in x for x in lines):
        time.sleep(0.02)
    if not workers or process.poll() is not None:
        process.wait(timeout=600)
        pytest.skip("the scan ended before it could be interrupted in the middle")
    started = time.monotonic()
    process.send_signal(signal.SIGINT)
    process.wait(timeout=120)
    reader.join(timeout=30)
    err = b"".join(lines)
    if process.returncode == 1 or (process.returncode == -signal.SIGINT and b"interrupted" not in err
                                   and b"wrote" in err):  # the signal came while the finished scan exited
        pytest.skip("the scan finished before the signal arrived")
    assert process.returncode == 130, err.decode()
    assert time.monotonic() - started < 60  # prompt: not the rest of the queue
    assert b"interrupted" in err and b"--resume" in err
    assert not any(_alive(pid) for pid in workers)
    finished = hosts(jsonl(out))
    assert sorted(h for h, _ in _store_hosts(case)) == sorted(finished)


@linux_only
def test_workers_die_with_their_parent(tmp_path: Path) -> None:
    fleet = [str(p) for p in _fleet(tmp_path, 8)]
    process = _start([*fleet, "-j", "2", "-f", "jsonl", "-o", str(tmp_path / "out.jsonl")], tmp_path)
    workers = _wait_for_workers(process, 2)
    if not workers:
        process.wait(timeout=600)
        pytest.skip("the scan ended before its workers could be seen")
    process.kill()
    process.wait(timeout=30)
    deadline = time.monotonic() + 120  # a loaded machine may take a while to deliver and reap
    while time.monotonic() < deadline and any(_alive(pid) for pid in workers):
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in workers)


def test_yara_scanners_are_kept_per_thread() -> None:
    """A yara_x Scanner is unsendable: each thread keeps its own, so none is dropped by another thread (Dask
    workers logged 'Scanner is unsendable, but is being dropped on another thread')."""
    import threading

    from exhunt.detectors.yara.parallel import release_thread_scanner, thread_scanner
    from exhunt.fleet.local import compiled_content

    data = compiled_content(ContentSpec()).parts["yara"].data
    here = thread_scanner(data, 60, 1 << 20, False)
    assert thread_scanner(data, 60, 1 << 20, False) is here
    other: list[bool] = []

    def work() -> None:
        other.append(thread_scanner(data, 60, 1 << 20, False) is here)
        release_thread_scanner()

    worker = threading.Thread(target=work)
    worker.start()
    worker.join()
    assert other == [False]


@linux_only
def test_a_worker_whose_parent_died_before_it_started_exits() -> None:
    """The parent's pid is taken before the fork: a worker that starts after its parent died (and was given
    to another parent) does not live on, bound to the wrong one."""
    child = os.fork()
    if child == 0:  # pragma: no cover - the child
        try:
            local._worker_init(os.getppid() + 1_000_000)  # not its parent: as if reparented after a death
        finally:
            os._exit(0)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 1


def test_a_complete_jsonl_run_leaves_no_partial_file_and_the_usual_bytes(tmp_path: Path) -> None:
    fleet = _fleet(tmp_path, 3)
    out, again = tmp_path / "out.jsonl", tmp_path / "again.jsonl"
    assert scan(*fleet, "-j", "2", "-f", "jsonl", "-o", out) == scan(*fleet, "-f", "jsonl", "-o", again)
    assert out.read_bytes() == again.read_bytes()
    assert not (tmp_path / "out.jsonl.partial").exists() and not (tmp_path / "again.jsonl.partial").exists()
    assert list(hosts(jsonl(out))) == ["ex01", "ex02", "ex03"]  # in the order given


def test_one_host_report_is_the_per_host_file_renamed_with_the_bytes_of_stdout(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With one host the per-host file already holds the report; it is renamed, not written a second time."""
    from exhunt.report.jsonl import JsonlReporter

    host = make_host(tmp_path / "ex01")
    out = tmp_path / "out.jsonl"
    written: list[int] = []
    original = JsonlReporter.write

    def counted(self: JsonlReporter, results: list[HostResult], handle: Any) -> None:
        written.append(len(results))
        original(self, results, handle)

    monkeypatch.setattr(JsonlReporter, "write", counted)
    code = scan(host, "-f", "jsonl", "-o", out)
    assert written == [1]  # the host's lines, once: the report is that file renamed
    assert not (tmp_path / "out.jsonl.partial").exists()
    assert [line["type"] for line in jsonl(out)][-1] == "host"
    printed = subprocess.run([sys.executable, "-c", "import sys; from exhunt.cli.main import main; "
                              "sys.exit(main(sys.argv[1:]))", "scan", str(host), "-f", "jsonl", "--no-progress"],
                             capture_output=True, check=False)
    assert printed.returncode == code and printed.stdout == out.read_bytes()


@linux_only
def test_a_run_killed_outright_leaves_the_finished_hosts_in_the_partial_file(tmp_path: Path) -> None:
    fleet = [str(p) for p in _fleet(tmp_path, 8)]
    out = tmp_path / "out.jsonl"
    process = _start([*fleet, "-j", "2", "-f", "jsonl", "-o", str(out)], tmp_path, progress=True)
    lines, reader = _read_in_background(process.stderr)
    deadline = time.monotonic() + 300
    while process.poll() is None and time.monotonic() < deadline and not any(b"host 2/" in x for x in lines):
        time.sleep(0.02)
    if process.poll() is not None:
        pytest.skip("the scan ended before it could be killed in the middle")
    process.kill()
    process.wait(timeout=60)
    reader.join(timeout=30)
    partial = tmp_path / "out.jsonl.partial"
    assert not out.exists() and partial.exists()
    kept = jsonl(partial)  # every line whole JSON: a host's lines are written in one piece
    finished = hosts(kept)
    assert len(finished) >= 2 and set(finished) <= {f"ex{n:02d}" for n in range(1, 9)}
    pending: list[dict[str, Any]] = []  # each host's findings come just before its summary line
    for line in kept:
        if line["type"] == "finding":
            pending.append(line)
        else:
            assert len(pending) == line["finding_count"]
            assert all(f["host"] == line["host"] for f in pending)
            pending = []
    assert pending == []


def test_a_run_refused_before_any_host_finished_leaves_no_partial_file(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from exhunt.cli import scan_cmd
    from exhunt.sources.base import EvidenceError

    def refused(*_: object, **__: object) -> list[HostResult]:
        raise EvidenceError("not evidence")  # as a folder of folders that are not hosts is refused

    monkeypatch.setattr(scan_cmd, "assess_paths", refused)
    out = tmp_path / "out.jsonl"
    assert scan(make_host(tmp_path / "ex01"), "-f", "jsonl", "-o", out) == 2
    assert not out.exists() and not (tmp_path / "out.jsonl.partial").exists()
