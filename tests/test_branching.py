"""Branching a run: the child starts at the parent's frame with the edited value and trains on;
an edit that does not fit the checkpoint is refused with the reason, or starts fresh networks."""

from __future__ import annotations

import pytest
from conftest import of_type, tiny_dqn, train_run

from tui_rl.engine.run.branching import BranchRefused, branch_run, checkpoint_frames
from tui_rl.engine.protocol import Metrics
from tui_rl.engine.runs.folder import read_config, read_summary
from tui_rl.engine.runs.record import create_run


@pytest.fixture
def parent(runs_dir):
    config = tiny_dqn()
    run_dir = create_run(config, name="parent", runs_dir=runs_dir)
    trainer, _ = train_run(config, run_dir)
    assert trainer.state == "finished" and checkpoint_frames(run_dir) == [300, 600]
    return run_dir


def train_child(child):
    trainer, events = train_run(read_config(child), child, from_checkpoint=True)
    assert trainer.state == "finished", trainer.reason
    return trainer, of_type(events, Metrics)


def test_a_branch_starts_at_the_parents_frame_with_the_edited_value(parent):
    child = branch_run(parent, {"optim.lr": 5e-4, "collector.total_frames": 900}, at_frames=300)
    summary = read_summary(child)
    assert (summary.parent, summary.parent_frames, summary.frames) == ("parent", 300, 300)
    assert child.name == "parent-b300" and checkpoint_frames(child) == [300]
    trainer, metrics = train_child(child)
    assert metrics[0].frames == 400, "the child did not start at the parent's frame"
    assert trainer.counters.frames == 900
    assert all(m.values["lr"] == pytest.approx(5e-4) for m in metrics)
    assert read_config(parent).optim.lr == pytest.approx(1e-3), "the parent's config changed"


def test_a_network_change_is_refused_unless_fresh_networks_are_asked_for(parent):
    with pytest.raises(BranchRefused, match="network.hidden_sizes") as refused:
        branch_run(parent, {"network.hidden_sizes": [16]})
    assert refused.value.misfit and not (parent.parent / "parent-b600").exists()

    child = branch_run(parent, {"network.hidden_sizes": [16], "collector.total_frames": 800}, fresh_networks=True)
    assert read_summary(child).fresh_networks and checkpoint_frames(child) == []
    trainer, metrics = train_child(child)
    assert metrics[0].frames == 700 and trainer.counters.frames == 800
    assert read_config(child).network.hidden_sizes == [16]


def test_a_collector_backend_change_is_refused_before_the_branch_is_made_unless_fresh(parent):
    # the checkpoint's collector state is laid out per backend: a processes child could not load it
    with pytest.raises(BranchRefused, match="collector.backend: .* single collector") as refused:
        branch_run(parent, {"collector.backend": "processes"})
    assert refused.value.misfit and not (parent.parent / "parent-b600").exists()

    child = branch_run(parent, {"collector.backend": "processes", "collector.total_frames": 700}, fresh_networks=True)
    trainer, metrics = train_child(child)
    assert metrics[0].frames == 700 and trainer.counters.frames == 700


def test_a_missing_checkpoint_is_named(parent):
    with pytest.raises(BranchRefused, match="no checkpoint at 123 frames .*300, 600"):
        branch_run(parent, {}, at_frames=123)


def test_tui_rl_branch_trains_the_child_and_explains_a_misfit(parent, runs_dir, capsys):
    from tui_rl.cli import main

    args = ["--runs-dir", str(runs_dir)]
    assert main(["branch", "parent", "--set", "network.hidden_sizes=[8]", *args]) == 2
    err = capsys.readouterr().err
    assert "network.hidden_sizes: [8] does not fit the checkpoint's networks, built with [32]" in err
    assert "--fresh-networks" in err and "TensorDict" not in err and not (runs_dir / "parent-b600").exists()
    code = main(["branch", "parent", "--checkpoint", "300", "--set", "optim.gamma=0.9", "--name", "what-if", *args])
    assert code == 2 and "optim.gamma" in capsys.readouterr().err  # an unknown field is named
    code = main(["branch", "parent", "--checkpoint", "300", "--set", "algorithm.gamma=0.9",
                 "--set", "collector.total_frames=700", "--name", "what-if", *args])
    assert code == 0
    summary = read_summary(runs_dir / "what-if")
    assert (summary.status, summary.frames, summary.parent, summary.parent_frames) == ("finished", 700, "parent", 300)
    assert read_config(runs_dir / "what-if").algorithm.gamma == pytest.approx(0.9)


def test_a_branch_inherits_its_parents_curve_up_to_the_branch_and_sees_its_siblings(parent):
    from tui_rl.engine.runs.lineage import read_lineage
    from tui_rl.engine.runs.folder import read_metrics

    first = branch_run(parent, {"optim.lr": 5e-4}, at_frames=300)
    second = branch_run(parent, {"optim.lr": 2e-3}, at_frames=300)
    lineage = read_lineage(first)
    parent_lr = read_metrics(parent)["lr"]
    assert lineage.inherited["lr"] == [p for p in parent_lr if p[0] <= 300] and lineage.inherited["lr"]
    assert lineage.branch_points == [(300, "from parent")]
    assert [name for name, _ in lineage.siblings] == [second.name]
