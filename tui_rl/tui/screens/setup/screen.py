"""Setup: the env, the transform stack, the policy and algorithm, and the hyperparameters of the
run that `s` starts. Every valid edit goes to ``app.config`` at once; an invalid one stays beside
its field and keeps the run from starting.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.lazy import Lazy
from textual.screen import Screen
from textual.widgets import Button, Header, Static, TabbedContent, TabPane
from textual.timer import Timer

from tui_rl.config import ConfigError, RunConfig, edit
from tui_rl.config.algorithm_switch import switch_algorithm
from tui_rl.config.algorithms import AlgorithmSection, agents_mismatch
from tui_rl.engine.envs.families import env_switch_edits, kwargs_switch_edits
from tui_rl.tui.screens.setup.add_transform import AddTransformScreen
from tui_rl.tui.screens.save_preset import save_as_preset
from tui_rl.tui.screens.setup.fields import (
    AGENT_FIELDS,
    ENV_FIELDS,
    GROUP_TITLES,
    POLICY_TITLES,
    PROBED_FIELDS,
    hparam_paths,
    policy_paths,
)
from tui_rl.tui.widgets.algorithm_picker import AlgorithmPicker, fitting_algorithms_for
from tui_rl.tui.widgets.env_picker import EnvPicker
from tui_rl.tui.widgets.fitting_footer import FittingFooter
from tui_rl.tui.widgets.hparam_form import LIVE_MARK, FieldForm, HparamForm
from tui_rl.tui.widgets.machine_info import MachineInfo
from tui_rl.tui.widgets.rollout_preview import RolloutPreview
from tui_rl.tui.widgets.policy_form import PolicyForm
from tui_rl.tui.widgets.spec_view import SpecView
from tui_rl.tui.widgets.transform_stack import TransformStack
from tui_rl.engine.envs.envpool_preprocessing import shown_plan

TABS_GROUP = Binding.Group("Tabs", compact=True)
#: tab -> the widget that takes the focus when the tab is shown by a key
TAB_FOCUS = {
    "tab-env": "#env-list",
    "tab-transforms": "#transform-list",
    "tab-policy": "#algorithm-set",
    "tab-hparams": "#hparam-form",  # the form, not a box in it: [ and ] keep switching tabs
}


class SetupScreen(Screen):
    """Tabs for the env, transforms, policy and hyperparameters of the next run."""

    CSS_PATH: ClassVar[list[str]] = [
        "setup.tcss",
        "../../widgets/env_picker.tcss",
        "../../widgets/spec_view.tcss",
        "../../widgets/transform_stack.tcss",
        "../../widgets/rollout_preview.tcss",
        "../../widgets/algorithm_picker.tcss",
        "../../widgets/hparam_form.tcss",
        "../../widgets/machine_info.tcss",
    ]
    # Not a text box: single keys (s starts training) must work the moment the app opens.
    AUTO_FOCUS = "#env-list"
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-narrow"), (120, "-wide")]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "ctrl+s", "save_preset", "Save", tooltip="Save as a preset TOML file",
            id="setup.save_preset",
        ),
        Binding("p", "preview", "Preview", id="setup.preview"),
        Binding(
            "left_square_bracket", "cycle_tab(-1)", "Previous tab", group=TABS_GROUP,
            id="setup.previous_tab",
        ),
        Binding(
            "right_square_bracket", "cycle_tab(1)", "Next tab", group=TABS_GROUP,
            id="setup.next_tab",
        ),
        Binding(
            "slash", "search_envs", "Search envs", key_display="/", show=False,
            id="setup.search_envs",
        ),
        Binding("escape", "leave_field", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.probe_timer: Timer | None = None
        #: algorithm name -> its section as last left, so a switch back restores what was tuned
        self.remembered: dict[str, AlgorithmSection] = {}

    def compose(self) -> ComposeResult:
        config: RunConfig = self.app.config
        yield Header()
        with TabbedContent(id="setup-tabs"):
            with TabPane("Environment", id="tab-env"):
                with Horizontal(id="env-columns"):
                    yield EnvPicker(config.env.id, config.env.imports, id="env-picker")
                    with Vertical(id="env-details"):
                        yield Static(id="env-chosen")
                        yield HparamForm(config, ENV_FIELDS, id="env-form", classes="side-form")
                        yield SpecView(id="spec-view")
            # Hidden tabs mount after the first paint (Lazy): hundreds of form widgets to style.
            with TabPane("Transforms", id="tab-transforms"):
                with Lazy(Horizontal(id="transform-area")):
                    with Vertical(id="transform-side"):
                        yield TransformStack(config.transforms, envpool=shown_plan(config), id="transform-stack")
                        with Horizontal(id="transform-buttons"):
                            yield Button("a Add", id="transform-add", compact=True)
                            yield Button("del Remove", id="transform-remove", compact=True)
                            yield Button("p Preview", id="transform-preview", compact=True)
                            yield Static("⇧↑ ⇧↓ move", classes="key-hint")
                    yield RolloutPreview(id="preview")
            with TabPane("Policy", id="tab-policy"):
                with Lazy(Horizontal(id="policy-columns")):
                    yield AlgorithmPicker(config.algorithm.name, id="algorithm-picker")
                    yield PolicyForm(
                        config,
                        policy_paths(config),
                        group_titles=POLICY_TITLES,
                        id="policy-form",
                        classes="side-form",
                    )
            with TabPane("Hyperparameters", id="tab-hparams"):
                with Lazy(Vertical(id="hparam-area")):
                    yield Static(
                        f"{LIVE_MARK} live: can be changed while the run goes on", id="live-legend"
                    )
                    yield HparamForm(
                        config, hparam_paths(config), group_titles=GROUP_TITLES, id="hparam-form",
                        focusable=True,
                    )
                    yield MachineInfo(config.collector.ray_address, id="machine-info")
        yield FittingFooter()

    def on_mount(self) -> None:
        self.show_env(self.app.config)

    def on_env_picker_loaded(self, message: EnvPicker.Loaded) -> None:
        # Probing imports torch (seconds, holding the interpreter): it starts once the env list
        # (read after the first frame) is on screen, so neither waits for it.
        self.call_after_refresh(self.probe_specs)

    @property
    def invalid_fields(self) -> list[str]:
        """Fields whose typed value is refused (the app will not start a run while there are any)."""
        return [path for form in self.query(FieldForm) for path in form.invalid]

    def use(self, config: RunConfig) -> None:
        """Make ``config`` the app's and the one each form's next edit starts from."""
        self.app.set_config(config)
        for form in self.query(HparamForm):
            form.config = config
        for stack in self.query(TransformStack):  # none while the tab is still unmounted (Lazy)
            stack.show_envpool(shown_plan(config))

    # ---- environment -------------------------------------------------------------------------

    def show_env(self, config: RunConfig) -> None:
        self.query_one("#env-chosen", Static).update(
            Text.assemble(("Env  ", "bold"), config.env.id)
        )

    def show_tab(self, tab: str) -> None:
        # Focus moves into the tab: focus left in a hidden tab would switch back to it.
        self.query_one(TabbedContent).active = tab
        for widget in self.query(TAB_FOCUS[tab])[:1]:  # absent for a moment while a tab mounts
            widget.focus()

    def action_cycle_tab(self, step: int) -> None:
        tabs = list(TAB_FOCUS)
        current = tabs.index(self.query_one(TabbedContent).active)
        self.show_tab(tabs[(current + step) % len(tabs)])

    def action_search_envs(self) -> None:
        self.show_tab("tab-env")
        self.query_one("#env-search").focus()

    async def on_env_picker_chosen(self, event: EnvPicker.Chosen) -> None:
        try:
            config = edit(self.app.config, env_switch_edits(self.app.config, event.env_id), source="setup")
        except ConfigError as exc:
            self.notify(str(exc), title="Env", severity="error", markup=False)
            return
        if config.transforms != self.app.config.transforms:
            for stack in self.query(TransformStack):  # none while the tab is still unmounted (Lazy)
                await stack.set_transforms(config.transforms)
        self.use(config)
        self.show_env(config)
        self.query_one(SpecView).probe(config)

    async def on_hparam_form_edited(self, event: HparamForm.Edited) -> None:
        config = event.config
        if event.path == "env.kwargs" and (stack := kwargs_switch_edits(self.app.config, config)):
            # from_pixels switched on a DeepMind Control task: the stack its pixels need, or back
            config = edit(config, stack, source="setup")
            for view in self.query(TransformStack):  # none while the tab is still unmounted (Lazy)
                await view.set_transforms(config.transforms)
            names = ", ".join(t.name for t in config.transforms) or "none"
            self.notify(f"env.kwargs changed the preprocessing {config.env.id} goes with; the Transforms "
                        f"tab now holds it: {names}", title="Transforms", markup=False)
        self.use(config)
        if event.path in AGENT_FIELDS:  # the Policy tab says how the networks treat the agents
            for form in self.query(PolicyForm):  # none while the tab is still unmounted (Lazy)
                form.show_fit()
        if event.path in PROBED_FIELDS:
            self.probe_soon()

    def probe_specs(self) -> None:
        self.query_one(SpecView).probe(self.app.config)

    def probe_soon(self) -> None:
        """Probe once the user pauses typing, not at every key."""
        if self.probe_timer is not None:
            self.probe_timer.stop()
        self.probe_timer = self.set_timer(0.4, self.probe_specs)

    async def on_spec_view_probed(self, event: SpecView.Probed) -> None:
        if event.env_id != self.app.config.env.id:
            return  # a probe of an env the user has already moved away from
        if not self.query(AlgorithmPicker):  # the Policy tab is still mounting (Lazy)
            self.call_after_refresh(self.post_message, event.clone())
            return
        picker = self.query_one(AlgorithmPicker)
        picker.fit_to(event.env_id, event.kind)
        self.query_one(PolicyForm).fit_inputs(event.env_id, event.inputs, event.groups)
        current = self.app.config.algorithm.name
        fitting = fitting_algorithms_for(event.env_id, event.kind)
        if fitting and current not in fitting and (event.kind is not None or event.groups):
            chosen = fitting[0]
            picker.show_choice(chosen)
            await self.choose_algorithm(chosen, agents_mismatch(current, event.env_id, bool(event.groups)) or
                                        f"{current.upper()} cannot act in {event.env_id}'s {event.kind} action space.")

    # ---- transforms --------------------------------------------------------------------------

    def on_transform_stack_changed(self, event: TransformStack.Changed) -> None:
        data = [t.model_dump() for t in event.transforms]
        try:
            config = edit(self.app.config, {"transforms": data}, source="setup")
        except ConfigError as exc:
            self.notify(str(exc), title="Transforms", severity="error", markup=False)
            return
        self.use(config)
        self.probe_soon()

    def on_transform_stack_add_requested(self, event: TransformStack.AddRequested) -> None:
        event.stop()
        self.action_add_transform()

    def action_add_transform(self) -> None:
        async def add(name: str | None) -> None:
            if name:
                await self.query_one(TransformStack).add(name)

        self.app.push_screen(AddTransformScreen(), add)

    @on(Button.Pressed, "#transform-add")
    def add_pressed(self) -> None:
        self.action_add_transform()

    @on(Button.Pressed, "#transform-remove")
    async def remove_pressed(self) -> None:
        await self.query_one(TransformStack).action_remove()

    @on(Button.Pressed, "#transform-preview")
    def preview_pressed(self) -> None:
        self.action_preview()

    def action_preview(self) -> None:
        self.show_tab("tab-transforms")
        self.query_one(RolloutPreview).run(self.app.config)

    def on_rollout_preview_finished(self, message: RolloutPreview.Finished) -> None:
        # At 80x24 a shown rollout gets the room of its ten-odd rows: the stack shrinks.
        self.query_one("#transform-area").set_class(message.rollout is not None, "-previewed")

    # ---- policy and algorithm ----------------------------------------------------------------

    async def on_algorithm_picker_chosen(self, event: AlgorithmPicker.Chosen) -> None:
        await self.choose_algorithm(event.name)

    async def choose_algorithm(self, name: str, reason: str = "") -> None:
        """Switch algorithm, keeping what was tuned (see switch_algorithm), and say what changed."""
        current = self.app.config.algorithm
        self.remembered[current.name] = current
        config, changes = switch_algorithm(self.app.config, name, self.remembered)
        self.use(config)
        self.query_one(AlgorithmPicker).show_changes(changes)
        if reason:  # a switch the user did not make, maybe out of sight: say it where they are
            self.notify("\n".join([reason, *changes]), title="Algorithm", timeout=10, markup=False)
        await self.query_one("#policy-form", HparamForm).rebuild(config, policy_paths(config))
        await self.query_one("#hparam-form", HparamForm).rebuild(config, hparam_paths(config))

    # ---- presets -----------------------------------------------------------------------------

    def action_save_preset(self) -> None:
        invalid = self.invalid_fields
        if invalid:
            self.notify(
                f"Fix the invalid fields first: {', '.join(invalid)}",
                title="Cannot save",
                severity="error",
                markup=False,
            )
            return
        app = self.app
        save_as_preset(app, app.config, f"edited from preset {app.preset_name}", app.preset_config)

    def action_leave_field(self) -> None:
        """Escape leaves a text box for the tab's main widget, so single keys work again: the
        screen's (s, q, 1-4) and that widget's (a adds a transform)."""
        targets = self.query(TAB_FOCUS[self.query_one(TabbedContent).active])
        if targets:
            targets.first().focus()
        else:
            self.set_focus(None)
