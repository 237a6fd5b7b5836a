"""Run folders: created owner-only, written atomically, read back whole even after a killed writer."""

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tui_rl.config import RunConfig, load_file
from tui_rl.engine.protocol import Checkpointed, HparamsChanged, StatusChanged
from tui_rl.engine.channel.framing import MAX_SOCKET_PATH, socket_path_for
from tui_rl.engine.runs.folder import EVENTS_FILE, RUN_FILE, SCALARS_DIR, UNREADABLE, RunFolderError, list_runs, read_events, read_history, read_summary, resolve_run
from tui_rl.engine.runs.record import append_event, create_run, trim_metrics, write_run_json


@pytest.fixture
def run_dir(tmp_path):
    return create_run(RunConfig(), name="first", runs_dir=tmp_path, preset="cartpole-dqn")


def write_metric(run_dir, name, text):
    path = run_dir / SCALARS_DIR / f"{name}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_a_new_run_folder_is_owner_only_and_holds_the_config_and_a_starting_summary(run_dir):
    assert stat.S_IMODE(run_dir.stat().st_mode) == 0o700
    assert load_file(run_dir / "config.toml") == RunConfig()
    summary = read_summary(run_dir)
    assert (summary.name, summary.preset, summary.status) == ("first", "cartpole-dqn", "starting")
    assert (summary.env_id, summary.algorithm) == ("CartPole-v1", "dqn")


def test_a_taken_name_is_refused_with_a_way_out(run_dir, tmp_path):
    with pytest.raises(RunFolderError, match="--name: a run called 'first' already exists.*--resume first"):
        create_run(RunConfig(), name="first", runs_dir=tmp_path)


def test_runs_without_a_name_get_distinct_folders(tmp_path):
    first = create_run(RunConfig(), runs_dir=tmp_path, preset="cartpole-dqn")
    second = create_run(RunConfig(), runs_dir=tmp_path, preset="cartpole-dqn")
    assert first != second and first.name.startswith("cartpole-dqn-")


def test_run_json_is_replaced_whole_and_leaves_no_temporary_file(run_dir):
    summary = read_summary(run_dir)
    summary.status, summary.frames = "running", 1234
    write_run_json(run_dir, summary)
    assert json.loads((run_dir / RUN_FILE).read_text())["frames"] == 1234
    assert [p.name for p in run_dir.iterdir() if p.name.startswith(".")] == []


def test_metric_series_read_back_without_a_torn_last_line(run_dir):
    write_metric(run_dir, "episode_return", "100,9.0\n200,12.5\n30")  # the writer died mid-line
    write_metric(run_dir, "loss_qvalue", "200,0.5\n")
    metrics = read_history(run_dir).metrics
    assert metrics["episode_return"] == [(100, 9.0), (200, 12.5)]
    assert metrics["loss_qvalue"] == [(200, 0.5)]


def test_trimming_drops_the_rows_a_resumed_run_collects_again(run_dir):
    path = write_metric(run_dir, "episode_return", "100,1.0\n200,2.0\n300,3.0\n400,4")
    trim_metrics(run_dir, 200)
    assert path.read_text() == "100,1.0\n200,2.0\n"


def test_logged_events_come_back_as_protocol_events_and_a_torn_line_is_skipped(run_dir):
    append_event(run_dir, StatusChanged("running", seq=1, frames=0))
    append_event(run_dir, HparamsChanged({"optim.lr": 3e-4}, {"optim.lr": 1e-3}, seq=2, frames=500))
    with open(run_dir / EVENTS_FILE, "a") as file:
        file.write('{"type": "Checkpointed", "seq": 3, "pa')
    events = read_events(run_dir)
    assert events == [
        StatusChanged("running", seq=1, frames=0),
        HparamsChanged({"optim.lr": 3e-4}, {"optim.lr": 1e-3}, seq=2, frames=500),
    ]
    assert read_history(run_dir).last_seq == 2
    append_event(run_dir, Checkpointed("x", seq=4))  # appends stay readable after a torn line
    assert read_events(run_dir)[-1] == Checkpointed("x", seq=4)


def test_a_running_run_whose_trainer_died_reads_as_stopped_with_how_to_resume(run_dir):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    summary = read_summary(run_dir)
    summary.status, summary.pid = "running", dead.pid
    write_run_json(run_dir, summary)
    found = read_summary(run_dir)
    assert found.status == "stopped"
    assert "tui-rl train --resume first" in found.reason


def test_runs_are_listed_newest_first_and_resolved_by_name_or_path(tmp_path):
    older = create_run(RunConfig(), name="older", runs_dir=tmp_path)
    newer = create_run(RunConfig(), name="newer", runs_dir=tmp_path)
    summary = read_summary(newer)
    summary.created += 10
    write_run_json(newer, summary)
    assert [s.name for s in list_runs(tmp_path)] == ["newer", "older"]
    assert resolve_run("older", tmp_path) == older.resolve()
    assert resolve_run(str(newer), tmp_path / "elsewhere") == newer.resolve()
    with pytest.raises(RunFolderError, match="no run 'missing'.*newer, older"):
        resolve_run("missing", tmp_path)


def test_a_run_folder_too_deep_for_a_unix_socket_gets_a_short_socket_path(tmp_path):
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    path = socket_path_for(deep)
    assert len(str(path)) <= MAX_SOCKET_PATH
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert socket_path_for(tmp_path) == tmp_path.resolve() / "control.sock"


DAMAGED_RUN_JSON = {
    "a list": (b"[]", "expected a JSON object, found a list"),
    "null": (b"null", "found null"),
    "not UTF-8": (b'{"status": "\xff"}', "utf-8"),
    "not JSON": (b'{"status": ', "damaged"),
    "a wrong type": (b'{"frames": "many"}', "frames: 'many' is not a whole number"),
    "a boolean for a number": (b'{"total_frames": true}', "total_frames: True is not a whole number"),
    "a pid out of range": (b'{"status": "running", "pid": 99999999999999}', "pid: 99999999999999"),
    "deep nesting": (b"[" * 100_000, "damaged"),
}


@pytest.mark.parametrize("case", DAMAGED_RUN_JSON)
def test_a_damaged_run_json_is_listed_as_unreadable_and_hides_no_other_run(tmp_path, case):
    content, reason = DAMAGED_RUN_JSON[case]
    create_run(RunConfig(), name="good", runs_dir=tmp_path)
    damaged = create_run(RunConfig(), name="damaged", runs_dir=tmp_path)
    (damaged / RUN_FILE).write_bytes(content)
    listed = {s.name: s for s in list_runs(tmp_path)}
    assert listed["good"].status == "starting"
    assert listed["damaged"].status == UNREADABLE
    assert reason in listed["damaged"].reason and str(damaged) not in listed["damaged"].reason
    with pytest.raises(RunFolderError, match="damaged"):
        read_summary(damaged)


def test_events_that_are_not_utf8_objects_or_well_typed_are_skipped(run_dir):
    append_event(run_dir, StatusChanged("running", seq=1, frames=0))
    with open(run_dir / EVENTS_FILE, "ab") as file:
        file.write(b'{"type": "StatusChanged", "state": "\xff"}\n')  # not UTF-8
        file.write(b'[1, 2]\n"text"\nnull\n42\n')  # JSON, but not objects
        file.write(b'{"type": "StatusChanged", "state": "running", "seq": "x"}\n')  # a wrong type
        file.write(b'{"type": "Metrics", "values": {"fps": "fast"}}\n')
        file.write(b'{"type": 5}\n' + b"[" * 100_000 + b"\n")
    append_event(run_dir, Checkpointed("x", seq=2))
    assert read_events(run_dir) == [StatusChanged("running", seq=1, frames=0), Checkpointed("x", seq=2)]
    assert read_history(run_dir).last_seq == 2


def test_metric_rows_with_an_infinite_frame_or_bad_bytes_are_skipped(run_dir):
    write_metric(run_dir, "episode_return", "100,1.0\ninf,2.0\nnan,3.0\n-inf,4\n")
    (run_dir / SCALARS_DIR / "loss.csv").write_bytes(b"100,\xff\n200,0.5\n")
    metrics = read_history(run_dir).metrics
    assert metrics["episode_return"] == [(100, 1.0)]
    assert metrics["loss"] == [(200, 0.5)]


@pytest.mark.parametrize(
    "name, problem",
    [("x" * 300, "at most 100 characters"), ("two\nlines", "newlines"), ("tab\there", "control"),
     ("bell\x07", "control"), ("a/b", "slashes"), (".hidden", "dot"), ("", "empty")],
)
def test_unusable_run_names_are_refused_before_any_folder_is_made(tmp_path, name, problem):
    with pytest.raises(RunFolderError, match=f"--name: .*{problem}"):
        create_run(RunConfig(), name=name, runs_dir=tmp_path / "runs")
    assert not (tmp_path / "runs").exists() or list((tmp_path / "runs").iterdir()) == []


def test_a_runs_dir_that_is_a_file_or_cannot_hold_folders_is_refused(tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("")
    with pytest.raises(RunFolderError, match="--runs-dir: .* is a file"):
        create_run(RunConfig(), runs_dir=a_file)
    with pytest.raises(RunFolderError, match="--runs-dir: cannot create runs in /proc"):
        create_run(RunConfig(), name="x", runs_dir=Path("/proc"))
    with pytest.raises(RunFolderError, match="--runs-dir: .* is a file"):
        list_runs(a_file)
    assert list_runs(tmp_path / "not-yet") == []
