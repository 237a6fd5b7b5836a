"""The run record (tui_rl/engine/runs/record.py): the one writer of run.json and the events log,
over one counters dataclass; run.json keeps flat keys, so older run folders still read."""

from __future__ import annotations

import json

from tui_rl.config import RunConfig
from tui_rl.engine.runs.counters import COUNTER_FIELDS, RunCounters
from tui_rl.engine.protocol import Log, StatusChanged
from tui_rl.engine.runs.record import RunRecord, record_address, record_state
from tui_rl.engine.runs.folder import RUN_FILE, read_events, read_summary
from tui_rl.engine.runs.record import create_run


def test_the_summary_carries_the_counters_as_flat_run_json_keys(tmp_path):
    run_dir = create_run(RunConfig(), runs_dir=tmp_path)
    counters = RunCounters(frames=300, episodes=7, train_seconds=1.5, best_eval=9.0, last_eval=8.0, solved_frames=300, solved_train_seconds=1.5)
    record = RunRecord(run_dir, counters, total_frames=600)
    record.set_state("running")

    data = json.loads((run_dir / RUN_FILE).read_text())
    assert {name: data[name] for name in COUNTER_FIELDS} == counters.to_dict()
    summary = read_summary(run_dir)
    assert summary.counters == counters
    assert (summary.status, summary.total_frames) == ("running", 600)


def test_a_run_json_written_before_the_solved_counters_existed_still_reads(tmp_path):
    run_dir = create_run(RunConfig(), runs_dir=tmp_path)
    data = json.loads((run_dir / RUN_FILE).read_text())
    for name in ("solved_frames", "solved_train_seconds"):
        data.pop(name)
    data.update(frames=128, episodes=3, best_eval=12.5)
    (run_dir / RUN_FILE).write_text(json.dumps(data))
    assert read_summary(run_dir).counters == RunCounters(frames=128, episodes=3, best_eval=12.5)


def test_events_are_numbered_on_from_the_log_on_disk(tmp_path):
    run_dir = create_run(RunConfig(), runs_dir=tmp_path)
    seen = []
    first = RunRecord(run_dir, RunCounters(), 600, seen.append)
    first.log("one")
    first.set_state("stopped", "by request")
    second = RunRecord(run_dir, RunCounters(frames=100), 600, seen.append)
    second.log("two")
    assert [e.seq for e in seen] == [1, 2, 3] and seen[-1].frames == 100
    assert [e.seq for e in read_events(run_dir)] == [1, 2, 3]


def test_the_server_records_its_address_and_a_failure_through_the_record(tmp_path):
    run_dir = create_run(RunConfig(), runs_dir=tmp_path)
    RunRecord(run_dir, RunCounters(), 600).log("before")
    record_address(run_dir, run_dir / "control.sock", 4242, "somehost")
    summary = read_summary(run_dir)
    assert (summary.socket, summary.pid, summary.host) == (str(run_dir / "control.sock"), 4242, "somehost")

    record_state(run_dir, "failed", "config.toml: env.id: unknown")
    summary = read_summary(run_dir)
    assert (summary.status, summary.reason) == ("failed", "config.toml: env.id: unknown")
    events = read_events(run_dir)
    assert isinstance(events[0], Log) and isinstance(events[-1], StatusChanged)
    assert events[-1].state == "failed" and events[-1].seq == 2
