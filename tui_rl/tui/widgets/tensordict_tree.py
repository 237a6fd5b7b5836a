"""A rollout TensorDict as a tree: every nested key with its shape and dtype (and each TensorDict's
device), in the words TensorDict prints but short enough for an 80-column terminal, and below it
the highlighted entry's value at the current step with its min / max / mean across the rollout
(for float entries)."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.widget import Widget
from textual.widgets import Static, Tree
from textual.widgets.tree import TreeNode

from tui_rl.tui.widgets.step_table import format_value, key_name

Key = tuple[str, ...]
#: statistics are given per component for entries this narrow, as a whole for wider ones
MAX_COMPONENT_STATS = 8


def size_text(shape: Any) -> str:
    return str(list(shape))


def tensordict_label(name: str, td: Any) -> Text:
    """``next: TensorDict(batch_size=[200], device=cpu)``."""
    text = Text()
    if name:
        text.append(f"{name}: ", "bold")
    text.append("TensorDict", "bold cyan")
    text.append(f"(batch_size={size_text(td.batch_size)}, device={td.device})")
    return text


def tensor_label(name: str, tensor: Any) -> Text:
    """``observation: Tensor(shape=[200, 4], dtype=float32)`` (its device is its TensorDict's)."""
    text = Text()
    text.append(f"{name}: ", "bold")
    text.append("Tensor", "green")
    text.append(f"(shape={size_text(tensor.shape)}, dtype={str(tensor.dtype).removeprefix('torch.')})")
    return text


def structure(td: Any) -> list[tuple[Key, bool]]:
    """Every key of ``td`` (nested ones as tuples), sorted as TensorDict prints them, and whether
    it holds a TensorDict."""
    found = []
    for name in sorted(td.keys()):
        value = td.get(name)
        nested = hasattr(value, "batch_size") and hasattr(value, "keys")
        found.append(((name,), nested))
        if nested:
            found.extend((((name, *key), sub) for key, sub in structure(value)))
    return found


def leaf_details(rollout: Any, key: Key, step: int) -> Table:
    """The entry's value at ``step`` and, for floats, its statistics across the rollout."""
    values = rollout.get(key)
    table = Table.grid(padding=(0, 1))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    table.add_row(f"{key_name(key)} at step {step}", format_value(values[step]))
    length = values.shape[0] if values.ndim else 0
    if not length:
        return table
    flat = values.reshape(length, -1)
    if values.is_floating_point():
        if flat.shape[1] <= MAX_COMPONENT_STATS:
            stats = (flat.amin(0), flat.amax(0), flat.mean(0))
        else:
            stats = (flat.min(), flat.max(), flat.mean())
        for name, stat in zip(("min", "max", "mean"), stats):
            table.add_row(f"{name} over {length} steps", format_value(stat))
    elif str(values.dtype) == "torch.bool":
        table.add_row("True at", f"{int(flat.any(-1).sum())} of {length} steps")
    return table


class TensorDictTree(Widget):
    """The rollout's keys as a tree; highlight a leaf to see its values."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.rollout: Any = None
        self.step = 0
        self.nodes: dict[Key, TreeNode] = {}
        self.shown_structure: list[tuple[Key, bool]] = []
        self.highlighted: Key | None = None

    def compose(self) -> ComposeResult:
        tree: Tree[Key | None] = Tree(Text("no rollout", style="dim"), id="td-tree")
        tree.show_root = True
        yield tree
        yield Static(id="td-leaf")

    @property
    def tree(self) -> Tree:
        return self.query_one("#td-tree", Tree)

    def show(self, rollout: Any, step: int) -> None:
        """Show ``rollout`` (rebuilding the tree only when its keys change) at ``step``."""
        self.rollout = rollout
        self.step = step
        keys = structure(rollout)
        if keys != self.shown_structure:
            self.rebuild(keys)
        self.relabel()
        self.show_leaf()

    def rebuild(self, keys: list[tuple[Key, bool]]) -> None:
        tree = self.tree
        tree.clear()
        tree.root.data = None
        self.nodes = {(): tree.root}
        for key, nested in keys:
            parent = self.nodes[key[:-1]]
            if nested:
                self.nodes[key] = parent.add(key[-1], data=None, expand=True)
            else:
                self.nodes[key] = parent.add_leaf(key[-1], data=key)
        tree.root.expand()
        self.shown_structure = keys

    def relabel(self) -> None:
        self.tree.root.set_label(tensordict_label("", self.rollout))
        for key, node in self.nodes.items():
            if not key:
                continue
            value = self.rollout.get(key)
            label = tensordict_label if node.data is None else tensor_label
            node.set_label(label(key[-1], value))

    def show_leaf(self) -> None:
        leaf = self.query_one("#td-leaf", Static)
        key = self.highlighted
        if key is None or self.rollout is None or key not in self.nodes or not self.rollout.batch_size[0]:
            leaf.update(Text("highlight an entry (↑/↓) to see its values", style="dim"))
            return
        leaf.update(leaf_details(self.rollout, key, self.step))

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted) -> None:
        event.stop()
        self.highlighted = event.node.data
        self.show_leaf()

