"""The race in the browser: `python run.py viz` (or `solara run browser/app.py`).

The sidebar holds Mesa's Step / Play / Reset (`ModelController`), the year, and the settings,
which take effect on Reset (a notice says when they differ from the running model's). The main
area has three tabs: the single run, the comparison of two plans, and the Info page. The URL
keeps the running model's settings, the tab and the comparison's choices, so a link restores them.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:  # `solara run browser/app.py` puts only browser/ on the path
    sys.path.insert(0, _ROOT)

import solara  # noqa: E402
import solara.lab  # noqa: E402
from mesa.visualization.solara_viz import ModelController  # noqa: E402
from mesa.visualization.utils import update_counter  # noqa: E402

from browser.comparison import MAX_DRAWS, MAX_SEEDS, SIDEBAR, ComparisonView, Request  # noqa: E402
from browser.settings import (  # noqa: E402
    KNOBS, MAX_YEARS, BrowserRaceModel, Knob, Settings, from_query, parse_seed, whole_number,
)
from browser.single import SingleRun, clock_text  # noqa: E402
from model.scenario import available_scenarios  # noqa: E402

PLAY_INTERVAL_MS = 400
TABS = ("single", "compare", "info")
TAB_LABELS = ("Single run", "Compare two plans", "Info")
COMPARE_KEYS = ("tab", "first", "second", "seeds", "draws")
INFO = (Path(__file__).with_name("info.md")).read_text(encoding="utf-8")
CSS = """
.v-navigation-drawer { width: 340px !important; }
.race-status { font-size: 0.85em; color: #555; margin-bottom: 4px; }
.race-log { padding: 6px 10px; max-height: 260px; overflow-y: auto; font-size: 0.9em; }
.race-events { border-spacing: 0 1px; }
.race-clock { font-size: 1.35em; font-weight: 600; }
.race-deals-box { max-height: 320px; overflow-y: auto; }
.race-deals { border-collapse: collapse; font-size: 0.9em; width: 100%; }
.race-deals th, .race-deals td { padding: 2px 8px; border-bottom: 1px solid #e0e0e0; text-align: left; }
.race-deal.blocked td { color: #8c2d04; }
.race-cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(280px, 1fr)); gap: 8px; margin: 8px 0; }
.race-card { border: 1px solid #ccc; border-radius: 6px; padding: 8px 10px; font-size: 0.9em; }
.race-card-firm { font-weight: 600; }
.race-card-value { font-size: 1.6em; font-weight: 700; }
.race-good { border-left: 6px solid #1a9850; }
.race-bad { border-left: 6px solid #d73027; }
.race-even { border-left: 6px solid #999; }
.race-verdict { font-size: 1.1em; font-weight: 600; margin: 6px 0; }
.race-compare-meta { font-size: 0.85em; color: #555; }
.race-knob-value { font-weight: 600; }
/* the value line above a slider names it; its own label stays for screen readers only */
.race-settings .v-slider__label, .race-settings .v-input__slider .v-label {
  position: absolute !important; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
"""


def _tab_index(extra: dict[str, str]) -> int:
    return TABS.index(extra["tab"]) if extra.get("tab") in TABS else 0


def _request(extra: dict[str, str]) -> tuple[Request, list[str]]:
    """The comparison's choices from the URL; a bad one keeps the default and says so."""
    request, problems = Request(), []
    choices = [*available_scenarios(), SIDEBAR]
    for key in ("first", "second"):
        if key in extra:
            if extra[key] in choices:
                request = replace(request, **{key: extra[key]})
            else:
                problems.append(f"{key} plan {extra[key][:40]!r} is not a scenario; using {getattr(request, key)}")
    for key, top in (("seeds", MAX_SEEDS), ("draws", MAX_DRAWS)):
        if key in extra:
            number = whole_number(extra[key], 0, top)
            if number is not None:
                request = replace(request, **{key: number})
            else:
                problems.append(f"{key} {extra[key][:40]!r} is not a whole number up to {top}; "
                                f"using {getattr(request, key)}")
    return request, problems


@solara.component
def KnobControl(knob: Knob, value, on_value):
    """A knob with its value always shown, a slider, and typed entry for an exact value."""
    typed_error = solara.use_reactive("")
    solara.use_effect(lambda: typed_error.set(""), [value])  # a new value (slider, scenario) ends an old complaint
    if knob.choices:
        solara.Select(knob.label, value=value, values=list(knob.choices), on_value=on_value)
        return
    with solara.Row(style="justify-content: space-between; font-size: 0.9em; margin-top: 6px"):
        solara.Text(knob.label)
        solara.Text(knob.fmt(value), classes=["race-knob-value"])

    def typed(text: str) -> None:
        try:
            on_value(knob.parse(text, typed=True))
            typed_error.set("")
        except ValueError as exc:
            typed_error.set(str(exc))

    def moved(new) -> None:
        typed_error.set("")
        on_value(new)

    unit = {"pct": "%/yr", "bn": "$bn/yr"}.get(knob.unit, "")
    with solara.Row(style="align-items: center; gap: 6px"):
        with solara.Column(style="flex: 1 1 auto; min-width: 170px"):
            solara.SliderFloat(knob.label, value=float(value), min=knob.min, max=knob.max, step=knob.step,
                               on_value=moved, thumb_label=False)
        with solara.Column(style="flex: 0 0 86px"):
            solara.InputText(f"{knob.short}, exact {unit}".strip(), value=knob.typed_text(value), on_value=typed,
                             continuous_update=False)
    if typed_error.value:
        solara.Error(typed_error.value, classes=["race-typed-error"], dense=True)


@solara.component
def Clock(model: BrowserRaceModel):
    update_counter.get()
    solara.Text(clock_text(model), classes=["race-clock"])
    if not model.running:
        solara.Info(f"The run reached {model.year}, the end of its horizon: press Reset to run again.",
                    dense=True, classes=["race-finished"])


def pending_notice(pending: Settings, running: Settings) -> str:
    """What the sidebar would change on Reset, or '' when it matches the running model."""
    if pending == running:
        return ""
    changes = []
    if pending.scenario != running.scenario:
        changes.append(f"scenario {running.scenario} → {pending.scenario}")
    if parse_seed(pending.seed)[1] != parse_seed(running.seed)[1]:
        changes.append(f"seed {running.seed or 'random'} → {pending.seed or 'random'}")
    if pending.years != running.years:
        changes.append(f"years {running.years} → {pending.years}")
    now = running.values
    for knob in KNOBS:
        new = pending.values[knob.path]
        if not knob.same(new, now[knob.path]):
            changes.append(f"{knob.short} {knob.fmt(now[knob.path])} → {knob.fmt(new)}")
    return "" if not changes else "Changed — press Reset to apply: " + "; ".join(changes)


@solara.component
def Page():
    router = solara.use_router()
    restored = solara.use_memo(lambda: from_query(router.search, COMPARE_KEYS), [])
    first_request, request_problems = solara.use_memo(lambda: _request(restored.extra), [])
    first_model = solara.use_memo(lambda: BrowserRaceModel(**restored.settings.model_kwargs()), [])
    model = solara.use_reactive(first_model)
    pending = solara.use_reactive(restored.settings)
    params = solara.use_reactive(restored.settings.model_kwargs())  # what Mesa's Reset builds from
    play_interval = solara.use_reactive(PLAY_INTERVAL_MS)
    render_interval = solara.use_reactive(1)
    use_threads = solara.use_reactive(False)
    tab = solara.use_reactive(_tab_index(restored.extra))
    request = solara.use_reactive(first_request)

    def choose(settings: Settings) -> None:
        pending.set(settings)
        params.set(settings.model_kwargs())

    running: Settings = model.value.settings
    linked = running if running.seed.strip() else replace(running, seed=str(model.value.seed))  # a drawn seed
    query = linked.to_query(tab=TABS[tab.value], first=request.value.first, second=request.value.second,
                             seeds=request.value.seeds, draws=request.value.draws)

    def keep_url():
        if router.set_path is not None and (router.search or "") != query:  # None outside a server
            router.push(f"{router.path or '/'}?{query}")

    solara.use_effect(keep_url, [query])

    solara.Title("AI investment race")
    solara.Style(CSS)
    with solara.AppBar():
        solara.AppBarTitle("AI investment race: who wins if one giant bets $200B on AI?")
    with solara.Sidebar():
        with solara.Card("Run", classes=["race-run-card"]):
            ModelController(model, model_parameters=params, play_interval=play_interval,
                            render_interval=render_interval, use_threads=use_threads)
            Clock(model.value)
            notice = pending_notice(pending.value, running)
            if notice:
                solara.Warning(notice, classes=["race-pending"], dense=True)
        with solara.Card("Settings (applied on Reset)", classes=["race-settings"]):
            value = pending.value
            solara.Select("Scenario", value=value.scenario, values=available_scenarios(),
                          on_value=lambda name: choose(Settings.of_scenario(name, seed=pending.value.seed)))
            solara.InputText("Seed (whole number)", value=value.seed, continuous_update=False,
                             on_value=lambda text: choose(replace(pending.value, seed=str(text))))
            with solara.Row(style="justify-content: space-between; font-size: 0.9em; margin-top: 6px"):
                solara.Text("Years to simulate")
                solara.Text(f"{value.years} years", classes=["race-knob-value"])
            solara.SliderInt("Years to simulate", value=value.years, min=1, max=MAX_YEARS, thumb_label=False,
                             on_value=lambda years: choose(replace(pending.value, years=int(years))))
            for knob in KNOBS:
                KnobControl(knob, value.values[knob.path],
                            lambda v, path=knob.path: choose(pending.value.with_knob(path, v)))
            solara.Button("Back to the scenario's values", text=True,
                          on_click=lambda: choose(Settings.of_scenario(pending.value.scenario, seed=pending.value.seed)))
        for problem in (*restored.problems, *request_problems):
            solara.Warning(f"From the link: {problem}", dense=True, classes=["race-url-problem"])
    with solara.lab.Tabs(value=tab, lazy=False):
        with solara.lab.Tab(TAB_LABELS[0]):
            SingleRun(model.value)
        with solara.lab.Tab(TAB_LABELS[1]):
            ComparisonView(pending.value, request)
        with solara.lab.Tab(TAB_LABELS[2]):
            with solara.Column(classes=["race-info"], style="max-width: 900px"):
                solara.Markdown(INFO)


page = Page
