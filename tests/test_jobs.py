"""Background jobs with real processes: queue, cancel, crashes, and an app restart."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from core.errors import HardpairsError
from core.io import REPO_ROOT, read_json
from core.jobs import queue as jobs
from core.jobs import records

pytestmark = pytest.mark.timeout(120)


def wait_for(pred, timeout: float = 30.0, what: str = "condition"):
    """Poll ``pred`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def py(code: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(code)]


def gated(gate: Path, out: str = "") -> list[str]:
    """A command that prints, then waits until ``gate`` exists, then prints ``out``."""
    return py(f"""
        import os, time
        print('star' + 'ted', flush=True)  # not literally in the echoed command
        while not os.path.exists({str(gate)!r}):
            time.sleep(0.05)
        print({out!r}, flush=True)
    """)


def state_of(job_id: str, root: Path) -> str:
    return records.get_job(job_id, root).state


def pid_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"


@pytest.fixture
def root(tmp_path):
    return tmp_path / "runs"


def test_job_runs_records_exit_and_result(root):
    job = jobs.submit(py("print('hel' + 'lo'); print('{\"linear_acc\": 0.5}')"), "pairs", raw=True, root=root)
    done = wait_for(lambda: (j := records.get_job(job.job_id, root)).state == "done" and j, what="job done")
    assert done.exit_code == 0 and done.message == ""
    assert records.job_result(done) == {"linear_acc": 0.5}
    assert "hello" in records.log_tail(done)
    assert records.log_tail(done, 1) == "[job] exit status 0"
    assert read_json(Path(done.job_dir) / "job.json")["argv"][1] == "-c"
    assert done.started is not None and done.ended >= done.started


def test_a_launcher_replaces_process_starts_inside_its_block_only(root):
    asked: list[Path] = []
    with jobs.using_launcher(asked.append):
        job = jobs.submit(py("print('ran')"), "pairs", raw=True, root=root)
        assert jobs.poll(root)[0].state == "queued"  # the launcher wrote no launch.json: nothing runs
    assert asked == [Path(job.job_dir)] * 2  # asked by submit, then by poll
    jobs.poll(root)  # outside the block the default launcher starts the wrapper process
    done = wait_for(lambda: (j := records.get_job(job.job_id, root)).state == "done" and j, what="job done")
    assert "ran" in records.log_tail(done)


def test_core_command_uses_this_interpreter(root):
    job = jobs.submit(["runs"], "runs", root=root)
    assert job.argv[:3] == (sys.executable, "-m", "core")
    assert job.command.startswith("python -m core runs")
    assert not job.heavy


def test_queue_runs_one_heavy_job_at_a_time(root, tmp_path):
    gate = tmp_path / "gate"
    first = jobs.submit(gated(gate, "first"), "train", raw=True, root=root)
    second = jobs.submit(py("print('second')"), "score", raw=True, root=root)
    light = jobs.submit(py("print('light')"), "pairs", raw=True, root=root)
    assert first.heavy and second.heavy and not light.heavy
    wait_for(lambda: "started" in records.log_tail(records.get_job(first.job_id, root)), what="first job started")
    # the light job runs while the heavy one holds the slot; the second heavy one waits
    wait_for(lambda: state_of(light.job_id, root) == "done", what="light job done")
    assert state_of(first.job_id, root) == "running"
    assert state_of(second.job_id, root) == "queued"
    assert records.counts(records.list_jobs(root)) == {"running": 1, "queued": 1}
    gate.touch()
    wait_for(lambda: state_of(second.job_id, root) == "done", what="second job done")
    a, b = records.get_job(first.job_id, root), records.get_job(second.job_id, root)
    assert a.state == "done"
    assert b.started >= a.ended  # started by the first job's wrapper after it finished


def test_cancel_queued_job_never_starts(root, tmp_path):
    gate = tmp_path / "gate"
    first = jobs.submit(gated(gate), "train", raw=True, root=root)
    second = jobs.submit(py("print('must not run')"), "train", raw=True, root=root)
    third = jobs.submit(py("print('third')"), "train", raw=True, root=root)
    cancelled = jobs.cancel(second.job_id, root)
    assert cancelled.state == "cancelled" and "before it started" in cancelled.message
    gate.touch()
    # the heavy slot passes in submit order: the third job can only run once the queue went past the second
    wait_for(lambda: state_of(third.job_id, root) == "done", what="third job done")
    assert state_of(first.job_id, root) == "done"
    job = records.get_job(second.job_id, root)
    assert job.state == "cancelled" and job.started is None
    assert "must not run" not in records.log_tail(job)


def test_cancel_terminates_the_process_group(root, tmp_path):
    pids = tmp_path / "pids.json"
    ckpt = tmp_path / "checkpoint"
    cmd = py(f"""
        import json, signal, subprocess, sys, time
        kid = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])
        def term(*_):
            open({str(ckpt)!r}, 'w').write('saved')  # what the trainer does: checkpoint, exit
            sys.exit(0)
        signal.signal(signal.SIGTERM, term)
        import os
        json.dump({{'me': os.getpid(), 'kid': kid.pid}}, open({str(pids)!r}, 'w'))
        time.sleep(600)
    """)
    job = jobs.submit(cmd, "train", raw=True, root=root)
    ids = wait_for(lambda: pids.exists() and pids.stat().st_size and json.loads(pids.read_text()), what="pids")
    assert jobs.cancel(job.job_id, root).state in ("running", "cancelled")
    final = wait_for(
        lambda: (j := records.get_job(job.job_id, root)).state == "cancelled" and j.ended and j, what="cancelled"
    )
    assert ckpt.read_text() == "saved"  # SIGTERM came first and was handled
    wait_for(lambda: pid_gone(ids["me"]) and pid_gone(ids["kid"]), what="group gone")
    assert final.message == "cancelled by the user"
    assert jobs.poll(root)[0].state == "cancelled"


def test_cancel_escalates_to_sigkill(root):
    cmd = py("""
        import signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print('ignoring %s' % 'SIGTERM', flush=True)
        time.sleep(600)
    """)
    job = jobs.submit(cmd, "train", raw=True, root=root, grace_s=0.5)
    wait_for(lambda: "ignoring SIGTERM" in records.log_tail(records.get_job(job.job_id, root)), what="child ready")
    jobs.cancel(job.job_id, root)
    final = wait_for(lambda: (j := records.get_job(job.job_id, root)).ended and j, what="job ended")
    assert final.state == "cancelled"
    assert final.exit_code == -signal.SIGKILL
    assert "sending SIGKILL" in records.log_tail(final)


def test_killed_child_shows_failed_with_log_tail(root):
    job = jobs.submit(
        py("print('epoch %d loss %.1f' % (1, 4.2), flush=True); import time; time.sleep(600)"),
        "train",
        raw=True,
        root=root,
    )
    wait_for(lambda: "epoch 1 loss" in records.log_tail(records.get_job(job.job_id, root)), what="output")
    child = read_json(Path(job.job_dir) / "child.json")
    os.kill(child["pid"], signal.SIGKILL)
    final = wait_for(lambda: (j := records.get_job(job.job_id, root)).state == "failed" and j, what="failed")
    assert final.exit_code == -9 and final.message == "killed by signal 9"
    assert "epoch 1 loss 4.2" in records.log_tail(final)


def test_dead_wrapper_without_exit_status_is_failed_and_next_job_starts(root, tmp_path):
    job = jobs.submit(py("import time; time.sleep(600)"), "train", raw=True, root=root)
    queued = jobs.submit(py("print('next')"), "train", raw=True, root=root)
    child = wait_for(lambda: read_json(Path(job.job_dir) / "child.json"), what="child started")
    wrapper = records.get_job(job.job_id, root).pid
    os.kill(wrapper, signal.SIGKILL)  # the wrapper dies first...
    os.kill(child["recorder"], signal.SIGKILL)  # ...then the recorder that waits on the command...
    os.killpg(child["pid"], signal.SIGKILL)  # ...then its command: nobody writes exit.json
    # SIGKILL is delivered asynchronously: wait until both are really gone (a loaded CI machine
    # once saw the wrapper still alive right after its command was gone)
    wait_for(
        lambda: pid_gone(child["pid"]) and pid_gone(wrapper) and pid_gone(child["recorder"]),
        what="wrapper, recorder and child gone",
    )
    dead = records.get_job(job.job_id, root)
    assert dead.state == "failed" and dead.exit_code is None
    assert dead.message == "the process died without recording an exit status"
    assert state_of(queued.job_id, root) == "queued"  # no wrapper was left to start it ...
    jobs.poll(root)  # ... so the next poll (the app's fragment, or `python -m core jobs`) does
    wait_for(lambda: state_of(queued.job_id, root) == "done", what="queued job done")


def test_jobs_survive_an_app_restart(root, tmp_path):
    """A fresh interpreter submits and exits; the queue still moves and a new one sees it all."""
    gate = tmp_path / "gate"
    script = f"""
        import sys
        from core.jobs import queue as jobs
        a = jobs.submit({gated(gate, "A")!r}, 'train', raw=True, root={str(root)!r})
        b = jobs.submit([sys.executable, '-c', 'print(42)'], 'umap', raw=True, root={str(root)!r})
        print(a.job_id, b.job_id)
    """
    out = subprocess.run(py(script), cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    a_id, b_id = out.stdout.split()
    assert state_of(b_id, root) == "queued"
    gate.touch()  # the "app" is gone; A's wrapper starts B when A ends
    wait_for(lambda: state_of(b_id, root) == "done", what="B done")
    cli = subprocess.run(
        [sys.executable, "-m", "core", "jobs", "--runs-root", str(root)], cwd=REPO_ROOT, capture_output=True, text=True
    )
    listed = json.loads(cli.stdout.strip().splitlines()[-1])
    assert {j["job_id"]: j["state"] for j in listed["jobs"]} == {a_id: "done", b_id: "done"}
    assert listed["running"] == 0 and listed["queued"] == 0
    assert records.log_tail(records.get_job(b_id, root)).splitlines()[-2] == "42"


def test_unknown_job_is_a_clear_error(root):
    with pytest.raises(HardpairsError, match="python -m core jobs"):
        records.get_job("nope", root)


def test_killed_wrapper_child_records_its_own_exit_and_starts_the_next_job(root, tmp_path):
    """kill -9 of the wrapper (launch.json's pid) while the command runs: the job still ends "done"
    when the command succeeds, and the next queued job starts without any poll."""
    gate = tmp_path / "gate"
    job = jobs.submit(gated(gate, "finished"), "train", raw=True, root=root)
    queued = jobs.submit(py("print('next ' + 'ran')"), "train", raw=True, root=root)
    wait_for(lambda: read_json(Path(job.job_dir) / "child.json"), what="child started")
    wrapper = read_json(Path(job.job_dir) / "launch.json")["pid"]
    os.kill(wrapper, signal.SIGKILL)
    wait_for(lambda: pid_gone(wrapper), what="wrapper gone")
    running = records.get_job(job.job_id, root)
    assert running.state == "running" and "wrapper process is gone" in running.message
    assert state_of(queued.job_id, root) == "queued"
    gate.touch()  # the command now ends with status 0; nothing in this test polls the queue
    done = wait_for(lambda: (j := records.get_job(job.job_id, root)).state == "done" and j, what="job done")
    assert done.exit_code == 0 and done.message == ""
    nxt = wait_for(lambda: (j := records.get_job(queued.job_id, root)).state == "done" and j, what="next done")
    assert "next ran" in records.log_tail(nxt)
    assert nxt.started >= done.ended


def test_two_submits_at_once_are_two_jobs_run_one_at_a_time(root, tmp_path):
    """Two tabs submitting at the same moment: two distinct jobs, the heavy slot held by one."""
    import threading

    gate = tmp_path / "gate"
    barrier = threading.Barrier(2)
    made: list[records.Job] = []

    def tab(text: str) -> None:
        barrier.wait()
        made.append(jobs.submit(gated(gate, text), "train", raw=True, root=root))

    threads = [threading.Thread(target=tab, args=(t,)) for t in ("one", "two")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({j.job_id for j in made}) == 2
    # both submits returned, so the queue has decided; wait until one command really runs
    wait_for(
        lambda: any("started" in records.log_tail(records.get_job(j.job_id, root)) for j in made), what="one started"
    )
    states = sorted(state_of(j.job_id, root) for j in made)
    assert states == ["queued", "running"]
    assert records.counts(records.list_jobs(root)) == {"running": 1, "queued": 1}
    gate.touch()
    for j in made:
        wait_for(lambda j=j: state_of(j.job_id, root) == "done", what=f"{j.job_id} done")
    a, b = sorted((records.get_job(j.job_id, root) for j in made), key=lambda j: j.started)
    assert b.started >= a.ended


def test_two_processes_submitting_at_once_get_distinct_indexed_jobs(root):
    script = f"""
        from core.jobs import queue as jobs
        import sys
        print(jobs.submit([sys.executable, '-c', 'print(1)'], 'pairs', raw=True, root={str(root)!r}).job_id)
    """
    procs = [subprocess.Popen(py(script), cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True) for _ in range(3)]
    ids = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert len(set(ids)) == 3
    assert sorted(j.job_id for j in records.list_jobs(root)) == sorted(ids)
    index = (root / ".jobs" / ".index.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["job_id"] for line in index) == sorted(ids)


def _plant(root: Path, marker: Path) -> Path:
    planted = root / ".jobs" / "20990101-000000-train-planted"
    planted.mkdir(parents=True)
    (planted / "job.json").write_text(
        json.dumps(
            {
                "job_id": planted.name,
                "kind": "train",
                "argv": py(f"open({str(marker)!r}, 'w').write('ran')"),
                "run_dir": None,
                "heavy": True,
                "created": time.time(),
                "grace_s": 1.0,
            }
        )
    )
    return planted


def test_planted_job_is_never_run_by_listing_or_poll(root, tmp_path):
    marker = tmp_path / "pwned"
    planted = _plant(root, marker)
    assert records.list_jobs(root) == []
    cli = subprocess.run(
        [sys.executable, "-m", "core", "jobs", "--runs-root", str(root)], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert json.loads(cli.stdout.strip().splitlines()[-1])["jobs"] == []
    assert jobs.poll(root) == []
    assert jobs.start_queued(root) == 0
    real = jobs.submit(py("print('real')"), "train", raw=True, root=root)  # a real submit starts only its own job
    # the planted job is older and heavy: had the queue taken it, it would have run (and ended) before this one
    wait_for(lambda: state_of(real.job_id, root) == "done", what="real job done")
    assert not marker.exists() and not (planted / "launch.json").exists()
    with pytest.raises(HardpairsError, match="no job"):
        records.get_job(planted.name, root)
    # the runner itself refuses a job the queue did not record
    out = subprocess.run(
        [sys.executable, "-m", "core.jobs.runner", "--record", str(planted)], cwd=REPO_ROOT, capture_output=True
    )
    assert out.returncode == 2 and not marker.exists()


def test_edited_job_json_is_not_run(root, tmp_path):
    gate = tmp_path / "gate"
    marker = tmp_path / "pwned"
    first = jobs.submit(gated(gate), "train", raw=True, root=root)
    second = jobs.submit(py("print('ok')"), "train", raw=True, root=root)
    spec = json.loads((Path(second.job_dir) / "job.json").read_text())
    spec["argv"] = py(f"open({str(marker)!r}, 'w').write('ran')")
    (Path(second.job_dir) / "job.json").write_text(json.dumps(spec))
    third = jobs.submit(py("print('third')"), "train", raw=True, root=root)
    gate.touch()
    # the heavy slot passes in submit order: the third job runs only once the queue went past the second
    wait_for(lambda: state_of(third.job_id, root) == "done", what="third done")
    assert not marker.exists() and not (Path(second.job_dir) / "launch.json").exists()
    assert [j.job_id for j in records.list_jobs(root)] == [third.job_id, first.job_id]  # newest first


@pytest.mark.parametrize("flag", ["--log", "--cancel"])
@pytest.mark.parametrize("job_id", ["../../fakejob", "..", ".", "/etc", "a/b", "", "x\n"])
def test_job_id_outside_the_jobs_folder_is_refused(root, flag, job_id, capsys):
    from core.cli import main

    fake = root / "fakejob"
    fake.mkdir(parents=True)
    (fake / "job.json").write_text("{}")
    assert main(["jobs", flag, job_id, "--runs-root", str(root)]) == 2
    err = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["error"]
    assert "job id" in err and "not allowed" in err
