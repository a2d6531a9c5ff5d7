"""What every page shares: the database handle, the acting user (sign-in, or the local demo's role
switcher), and small rendering helpers and sections (users, comments, decision trail). Pages stay
thin: gather input, call `pilots`, render what it returns."""

from __future__ import annotations

import datetime as dt
import re
import runpy
import threading
from dataclasses import dataclass
from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from pilots import audit, comments, store, text, users
from pilots.access import Actor
from pilots.cells import data_version
from pilots.db import Database
from pilots.model import ValidationError

APP_SCRIPT = Path(__file__).resolve().parents[1] / "app.py"

# ---------------------------------------------------------------- text is data

# Every character Markdown or Streamlit's additions to it (colours, icons, LaTeX) give a meaning to.
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:&=^\"'])")
# Where a link starts though every character around it is escaped: Streamlit's Markdown turns "https://…",
# "www.…" and "a@b.c" in plain text into links, and ":material/…:" or ":smile:" into an icon. An invisible
# word joiner after such a colon (one followed by a letter or a slash: not "10:45" or "batch 3: 20"), the "@"
# or the "www" breaks them, and nothing else.
_LINK_STARTS = re.compile(r"(:(?=[A-Za-z/])|@|(?i:www)(?=\\\.))")
_INDENT = re.compile(r"(?m)^ +")


def literal(value, limit: int = text.MAX_TEXT) -> str:
    """Someone's text (a name, a hypothesis, a rationale, an e-mail address, a query parameter) made
    ready to stand inside Markdown (st.markdown, captions, alerts, titles, labels, help) so that it
    shows exactly as typed: printable and bounded as for every renderer (pilots.text.printable), each
    Markdown character escaped, links and icons broken, a line's leading spaces kept as no-break
    spaces (four would start a code block). No image is fetched, no heading or link appears."""
    escaped = _MARKDOWN.sub(r"\\\1", text.printable(value, limit))
    kept = _INDENT.sub(lambda spaces: "\u00a0" * len(spaces.group()), escaped)
    return _LINK_STARTS.sub("\\g<1>\u2060", kept)


def database() -> Database:
    """The app's database ($PILOTS_DB or data/pilots.duckdb); its handle is opened once per process."""
    return Database()


# ---------------------------------------------------------------- who is using the app

DEMO_EDITOR = Actor("demo@localhost", "editor")
DEMO_STEERING = Actor("demo.steering@localhost", "steering")
VIEW_AS = "view_as"


def auth_configured() -> bool:
    """Whether sign-in is set up: an `[auth]` section in .streamlit/secrets.toml. Without it the app
    runs as the local demo, where whoever opens it picks a role."""
    try:
        return "auth" in st.secrets
    except FileNotFoundError:
        return False


def _demo_actor(choice: str) -> Actor:
    if choice.startswith("unit:"):
        unit_id = int(choice.removeprefix("unit:"))
        return Actor(f"demo.unit{unit_id}-head@localhost", "unit_head", frozenset({unit_id}))
    return DEMO_STEERING if choice == "steering" else DEMO_EDITOR


def access_state() -> tuple[Actor | None, str]:
    """(the acting user, how they got here): 'demo' without sign-in configured, else 'signed_in',
    'signed_out', or 'unmapped' for a signed-in person the CCO office has not given a role. The role
    is looked up on every run, so a change on the Settings page applies at the next click."""
    if not auth_configured():
        return _demo_actor(st.session_state.get(VIEW_AS, "editor")), "demo"
    if not st.user.is_logged_in:
        return None, "signed_out"
    actor = users.actor_for_identity(database(), st.user, st.secrets["auth"].get("verified_claim"))
    return (actor, "signed_in") if actor is not None else (None, "unmapped")


def fresh_form(name: str):
    """A form that keeps what was typed when a save is refused and starts empty after form_saved(name)
    (clear_on_submit would empty it whether or not the save went through). Shows the message of the
    last save above it, as plain text (it names what was saved, as typed)."""
    done = st.session_state.setdefault("saved_forms", {})
    generation, message = done.get(name, (0, None))
    if message:
        st.success(literal(message))
        done[name] = (generation, None)
    return st.form(f"{name}_{generation}")


def form_reset(name: str, message: str | None = None) -> None:
    """From the next run on, a fresh_form starts again from its initial values (with `message` above it)."""
    done = st.session_state.setdefault("saved_forms", {})
    done[name] = (done.get(name, (0, None))[0] + 1, message)


def form_saved(name: str, message: str) -> None:
    """After a fresh_form's save went through: say so, and show the form empty again."""
    form_reset(name, message)
    st.rerun()


def current_actor() -> Actor:
    """The person using the app; app.py has already shown the sign-in or no-access page to anyone
    without one, so a page never runs for them."""
    actor, _ = access_state()
    if actor is None:
        st.stop()
    return actor


def identity_bar(actor: Actor, how: str, banner: bool = True) -> None:
    """Say who is acting: in the demo a notice (on the page when `banner`, else in the sidebar) and
    the role switcher, once signed in the person's role and a sign-out button."""
    if how == "demo":
        # A badge rather than st.warning: pages' own warnings stay the first ones on the page.
        (st if banner else st.sidebar).markdown(
            ":orange-badge[:material/science: Local demo mode] No sign-in is configured, so anyone who can "
            "open this page acts in the role picked in the sidebar. Configure `[auth]` in "
            "`.streamlit/secrets.toml` to require sign-in (see `.streamlit/secrets.example.toml`).")
        units = store.list_units(database(), actor)
        names = {f"unit:{u.unit_id}": text.printable(u.name) for u in units}
        labels = {"editor": "editor (CCO office)", "steering": "steering committee",
                  **{key: f"head of {name}" for key, name in names.items()}}
        if st.session_state.get(VIEW_AS) not in labels:
            st.session_state[VIEW_AS] = "editor"
        st.sidebar.selectbox("View as", list(labels), format_func=labels.get, key=VIEW_AS,
                             help="Try the app in each role. With sign-in configured, the role comes from "
                                  "the user list on the Settings page.")
    else:
        role = ROLE_LABELS[actor.role]
        if actor.role == "unit_head":
            unit_names = [u.name for u in store.list_units(database(), actor) if u.unit_id in actor.unit_ids]
            role = f"head of {', '.join(unit_names)}"
        st.sidebar.caption(f"Signed in as **{literal(actor.email)}** · {literal(role)}")
        if st.sidebar.button("Sign out", icon=":material/logout:"):
            st.logout()


ROLE_LABELS = {"editor": "editor (CCO office)", "unit_head": "unit head", "steering": "steering committee"}


def sign_in_page() -> None:
    st.title("CX Pilot Tracker")
    st.markdown("Sign in with your organisation's account to see the pilots you are entitled to.")
    if st.button("Sign in", type="primary", icon=":material/login:"):
        st.login()


def no_access_page() -> None:
    st.title("Ask the CCO office for access")
    email = st.user.get("email")
    st.markdown(f"You are signed in as **{literal(email) if email else 'an account without an e-mail address'}**, "
                f"but the CCO office has not given this address a role yet, so there is nothing to show. "
                f"Ask them to add you as an editor, the head of your unit, or a steering committee member.")
    st.markdown("If they have added this address already, this sign-in does not count for it: your identity "
                "provider has not confirmed the address is yours, or the address is tied to another account of "
                "yours. The CCO office can remove and add you again to tie it to this one.")
    st.caption("The CCO office adds people on the Settings page, or with "
               "`python -m pilots users add EMAIL --role editor|unit_head|steering [--unit NAME ...]`.")
    if st.button("Sign out", icon=":material/logout:"):
        st.logout()


def show_problems(problems) -> None:
    """Refused input as a table: row, column, value, reason."""
    st.error(f"Refused, nothing was saved: {len(problems)} problem{'s' if len(problems) != 1 else ''}.")
    st.dataframe(
        [{"row": p.row, "column": p.column, "value": p.value, "reason": p.reason} for p in problems],
        hide_index=True, width="stretch")


@st.cache_data(max_entries=256, show_spinner=False)
def _chart_spec(key: tuple, _build) -> dict | None:
    chart = _build()
    return None if chart is None else chart.to_dict(validate=False)  # the charts' own tests validate them


def chart_spec(db: Database, actor: Actor, name: str, build) -> dict | None:
    """The Vega-Lite spec of the chart `build()` makes (None if it makes none), built once per `name`
    (say "timeline/7"), acting user, data version and day, for every session: building a chart and
    turning it into its spec takes longer than the rest of a page."""
    return _chart_spec((name, repr(actor), str(db.path), data_version(db), dt.date.today()), build)


def metric_labels() -> dict[str, str]:
    return {m.key: m.label for m in store.list_metrics(database())}


def in_app_shell() -> None:
    """Make sure a page runs inside app.py's navigation. Until `st.navigation` has run once in the
    process, Streamlit treats `pages/` as its older page folder and runs a page's script alone (a page
    URL as the server's first request; every AppTest run): no demo loading, no wide layout, no
    navigation. Then run app.py here instead, whose navigation runs this page inside the shell, in
    this same run so that no click is lost, and stop the standalone run."""
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        runpy.run_path(str(APP_SCRIPT), run_name="__main__")
        st.stop()


# ---------------------------------------------------------------- sections other pages include

def users_section(actor: Actor) -> None:
    """Settings: who has access in which role, and the forms to give or take it (editors only)."""
    if not actor.is_editor:
        return
    db = database()
    st.subheader("Who has access")
    if not auth_configured():
        st.caption("Sign-in is not configured, so this list applies only once it is: in the local demo the role "
                   "comes from the sidebar.")
    mapped = users.list_users(db, actor)
    st.dataframe([{"e-mail": u.email, "role": ROLE_LABELS[u.role], "units": ", ".join(u.unit_names)}
                  for u in mapped], hide_index=True, width="stretch",
                 column_config={"e-mail": st.column_config.TextColumn(width="medium")})
    with fresh_form("set_user"):
        st.markdown("**Give someone access** (or change their role)")
        email_col, role_col, units_col = st.columns([2, 1, 2])
        email = email_col.text_input("E-mail address", placeholder="name@example.com")
        role = role_col.selectbox("Role", list(ROLE_LABELS), format_func=ROLE_LABELS.get)
        unit_names = units_col.multiselect("Units (unit heads only)", [u.name for u in store.list_units(db, actor)])
        if st.form_submit_button("Save access"):
            try:
                saved = users.set_user(db, actor, email, role, unit_names)
                form_saved("set_user", f"{saved.email} is now {ROLE_LABELS[saved.role]}"
                                       f"{' of ' + ', '.join(saved.unit_names) if saved.unit_names else ''}.")
            except ValidationError as refused:
                show_problems(refused.problems)
    if mapped:
        with st.form("remove_user"):
            st.markdown("**Take away someone's access**")
            who = st.selectbox("E-mail address", [u.email for u in mapped], key="remove_user_email")
            sure = st.checkbox("Yes, remove this person's access")
            if st.form_submit_button("Remove access"):
                if not sure:
                    st.warning("Tick the box to confirm.")
                else:
                    users.remove_user(db, actor, who)
                    st.success(f"{literal(who)} no longer has access.")
                    st.rerun()


def _evidence_rows(then: dict, now: dict | None) -> list[dict]:
    current = {m["metric"]: m for m in (now or {}).get("metrics", [])}
    rows = []
    for metric in then.get("metrics", []):
        row = {"metric": metric.get("label") or metric["metric"], "role": metric.get("role"),
               "effect then": metric.get("effect"), "95% CI then": _interval(metric),
               "p then": metric.get("p_value")}
        if now is not None:
            later = current.get(metric["metric"], {})
            row.update({"effect now": later.get("effect"), "95% CI now": _interval(later),
                        "p now": later.get("p_value")})
        rows.append(row)
    return rows


def _interval(metric: dict) -> str:
    low, high = metric.get("ci_low"), metric.get("ci_high")
    return "—" if low is None or high is None else f"{low:.3g} to {high:.3g}"


@st.fragment
def _evidence_then_and_now(decision, now: dict) -> None:
    """A decision's frozen evidence next to today's, metric by metric, drawn once opened."""
    with st.expander("Evidence then and now, metric by metric", key=f"evidence_then_{decision.decision_id}",
                     on_change="rerun") as table:
        if table.open:
            st.dataframe(_evidence_rows(decision.evidence, now), hide_index=True, width="stretch")


def pilot_trail(pilot, case) -> None:
    """The end of the Pilot page: its decisions, each with the evidence frozen when it was taken
    next to today's numbers (`case`, the pilot's analysis.PilotCase), and the comments of everyone
    who can see the pilot."""
    db, actor = database(), current_actor()
    taken = audit.decisions(db, actor, pilot.pilot_id)
    if taken:
        st.subheader("Decisions")
        now = None
        if any(d.evidence for d in taken):
            from pilots.analysis import case_as_dict

            now = case_as_dict(case)
        for decision in taken:
            with st.container(border=True):
                st.markdown(f"**{literal(decision.decision.replace('_', ' ').capitalize())}** on "
                            f"{decision.decided_on:%d %b %Y}, approved by {literal(decision.approved_by)} "
                            f"(recorded by {literal(decision.recorded_by)})")
                st.text(text.printable(decision.rationale, text.MAX_TEXT))
                if decision.evidence:
                    st.caption(f"Evidence when decided: verdict *{literal(decision.evidence.get('verdict', '—'))}*; "
                               f"today: *{literal(now.get('verdict', '—'))}*.")
                    _evidence_then_and_now(decision, now)
                else:
                    st.caption("No evidence snapshot was kept with this decision.")
    st.subheader("Comments")
    for comment in comments.list_comments(db, actor, pilot.pilot_id):
        with st.chat_message("user", avatar=":material/person:"):
            st.markdown(f"**{literal(comment.author)}** · {comment.created_at:%d %b %Y %H:%M}")
            st.text(text.printable(comment.body, text.MAX_TEXT))
    with fresh_form(f"comment_{pilot.pilot_id}"):
        body = st.text_area("Add a comment", max_chars=comments.MAX_LENGTH)
        if st.form_submit_button("Post comment"):
            try:
                comments.add_comment(db, actor, pilot.pilot_id, body)
                form_saved(f"comment_{pilot.pilot_id}", "Comment posted.")
            except ValidationError as refused:
                show_problems(refused.problems)


_demo_lock = threading.Lock()


def load_demo_once(db: Database):
    """Load the demo organisation into an empty database; None if another session got there first
    (two browser tabs opened on a fresh server must not both load it)."""
    from pilots.demo import load_demo

    with _demo_lock:
        return load_demo(db) if store.is_empty(db) else None


# ---------------------------------------------------------------- present mode and assets

PAGE_ICON = Path(__file__).resolve().parents[1] / "static" / "favicon.png"
"""The browser tab's icon, served by the app itself: a Material icon as page icon makes the browser
fetch it from Google's font host on every visit, which a machine without internet cannot reach."""

# Present mode turns the page into a slide for a meeting room. A fixed stylesheet (it holds no text of
# anyone's): Streamlit's header, toolbar, "Deploy", main menu, running indicator, Stop button and
# decoration go; elements being rerun keep their look instead of fading; the type scales with the
# screen, so a slide laid out for 1366 x 768 looks the same, only larger, on 1920 x 1080 or 3840 x
# 2160 (one rem is 1/85.375 of the width or 1/48 of the height, whichever is smaller, and at least
# 16 px: exactly 16 px at 1366 x 768). Room below does the same sums in Python.
PRESENT_CSS = """<style>
html { font-size: max(16px, min(100vw / 85.375, 100vh / 48)) !important; }
header[data-testid="stHeader"], [data-testid="stToolbar"], [data-testid="stDecoration"],
[data-testid="stStatusWidget"], [data-testid="stAppDeployButton"], [data-testid="stMainMenu"],
[data-testid="stSidebarCollapsedControl"], [data-testid="stExpandSidebarButton"], .st-key-present_viewport
{ display: none !important; }
[data-testid="stMainBlockContainer"] { padding: 0.75rem 2.5rem 0.5rem !important; max-width: none !important; }
[data-testid="stMain"] [data-stale="true"], [data-testid="stMain"] .stale-element
{ opacity: 1 !important; transition: none !important; filter: none !important; }
[data-testid="stMain"] h1 { font-size: 2.25rem !important; line-height: 1.2 !important; padding: 0 !important;
  margin: 0 !important; }
[data-testid="stMain"] h4 { font-size: 1.35rem !important; line-height: 1.35 !important;
  padding: 0.25rem 0 0.5rem !important; margin: 0 !important; font-weight: 600 !important; }
[data-testid="stMain"] li h4 { padding: 0 !important; }
.st-key-present_cover h1 { font-size: 3.5rem !important; padding-bottom: 0.5rem !important; }
.st-key-present_cover [data-testid="stLayoutWrapper"], .st-key-present_cover { border: none !important; }
[data-testid="stMain"] [data-testid="stMetricValue"] { font-size: 3.25rem !important; }
[data-testid="stMain"] [data-testid="stMetricLabel"] p { font-size: 1.15rem !important; }
[data-testid="stMain"] [data-testid="stMetricDelta"] { font-size: 1.1rem !important; }
.st-key-present_slide [data-testid="stMarkdown"] p, .st-key-present_slide [data-testid="stMarkdown"] li
{ font-size: 1.15rem; }
</style>"""


def present_mode_style() -> None:
    """Turn this page into a slide (PRESENT_CSS); it goes with the page when the presenter leaves."""
    st.html(PRESENT_CSS)


REM_AT_REFERENCE = 16.0  # px: the type size of a 1366 x 768 screen, the smallest present mode is laid out for
REFERENCE_REMS = (85.375, 48.0)  # that screen in rem


def present_rem(width: float, height: float) -> float:
    """The pixels in one rem in present mode on a screen of `width` x `height` CSS pixels (PRESENT_CSS)."""
    return max(REM_AT_REFERENCE, min(width / REFERENCE_REMS[0], height / REFERENCE_REMS[1]))


# ---------------------------------------------------------------- present mode's layout

CHART_TYPE = 22  # chart type size (px) on a 1366 x 768 screen, readable from the back of a meeting room; scales up
ROW_GROWTH = 2.5  # how much taller than drawn for a deck a chart's rows may grow to fill a screen
STEP_EXTRA = 5  # a chart drawn row by row: its axes, axis title and legend take about this many type sizes
# The slide's layout in rem, as PRESENT_CSS sets it (measured in Chromium on the rendered page).
PAD_TOP, PAD_BOTTOM, SIDE = 0.75, 0.5, 2.5  # main area padding
GAP = 1.0  # Streamlit's gap between elements (headings and text take it back with a negative margin)
BAR = 2.5  # the row of Exit, Previous, Next and the page number
# Line height, type size (rem) and average character width (em; measured 0.46-0.47 for titles and
# 0.41-0.43 for messages in Chromium, rounded up) of a slide's title, and of its message and bullets.
TITLE_LINE, TITLE_EM, TITLE_CHAR = 2.25 * 1.2, 2.25, 0.5
MESSAGE_PAD, MESSAGE_LINE, MESSAGE_EM, MESSAGE_CHAR = 0.75, 1.35 * 1.35, 1.35, 0.46
BULLETS_PAD = 0.75  # a list's own margins
SLACK = 0.5  # room kept free at the bottom, so that rounding never makes the page scroll


@dataclass(frozen=True)
class Room:
    """The screen a deck is laid out for: its size in CSS pixels and one rem in pixels."""

    width: int
    height: int

    @property
    def rem(self) -> float:
        return present_rem(self.width, self.height)

    @property
    def chart_type(self) -> int:
        return round(CHART_TYPE * self.rem / REM_AT_REFERENCE)

    def lines(self, text: str, em: float, char: float = MESSAGE_CHAR) -> int:
        """Lines `text` takes at type size `em` (rem) across the slide, wrapped at spaces, if a
        character is `char` em wide."""
        per_line = max(10, int((self.width / self.rem - 2 * SIDE) / (em * char)))
        lines, used = 1, 0
        for word in text.split():
            if used and used + 1 + len(word) > per_line:
                lines, used = lines + 1, len(word)
            else:
                used += len(word) + (1 if used else 0)
        return lines

    def heading(self, title: str, message: str) -> float:
        """Rem from the top of the screen to the bottom of a slide's title and message."""
        return self._heading(self.lines(title, TITLE_EM, TITLE_CHAR),
                             self.lines(message, MESSAGE_EM) if message else 0)

    @staticmethod
    def _heading(title_lines: int, message_lines: int) -> float:
        return (PAD_TOP + BAR + GAP + title_lines * TITLE_LINE
                + (MESSAGE_PAD + message_lines * MESSAGE_LINE if message_lines else 0))

    def card_height(self, title: str, message: str, rows: int) -> int:
        """Pixels for each of `rows` rows of headline figures under `title` and `message`."""
        free = self.height / self.rem - self.heading(title, message) - PAD_BOTTOM - SLACK
        return int(max(8.0, (free - GAP * (rows - 1)) / rows) * self.rem)

    def cover_height(self) -> int:
        """Pixels for a cover slide under the bar."""
        return self._left(PAD_TOP + BAR + GAP)

    def _left(self, used: float) -> int:
        return max(160, int((self.height / self.rem - used - PAD_BOTTOM - SLACK) * self.rem))

    def chart_height(self, title: str, message: str, bullets: list[str] = ()) -> int:
        """Pixels left for a chart under `title` and `message` (and above `bullets`)."""
        used = self.heading(title, message)
        if bullets:
            used += GAP + BULLETS_PAD + sum(self.lines(b, MESSAGE_EM) for b in bullets) * MESSAGE_LINE
        return self._left(used)

    def typical_chart_height(self) -> int:
        """The height a deck's charts are built for: under a one-line title and a two-line message."""
        return self._left(self._heading(1, 2))


def fitted_chart(chart, height: int, base_size: int):
    """`chart` within `height` pixels: a single or layered chart is laid out by Streamlit to fit its
    height whole (axes and legends included), so one with a height in pixels gets all of `height`,
    and one with a height per row (alt.Step) gets the rows' share of it: a few rows grow (to at most
    ROW_GROWTH times their height) so that they do not leave half the screen empty, rows that would
    run off the screen are squeezed (present mode first draws them in smaller type: natural_height)."""
    if not isinstance(chart, (alt.Chart, alt.LayerChart)):
        return chart
    if isinstance(chart.height, (int, float)):
        return chart.properties(height=height)
    natural = natural_height(chart, base_size)
    if natural is not None:
        rows = _rows(chart)
        return chart.properties(height=int(min(height, natural + rows * chart.height.step * (ROW_GROWTH - 1))))
    return chart


def natural_height(chart, base_size: int) -> int | None:
    """About how tall a chart with a height per row (alt.Step) draws itself, axes and legend
    included (STEP_EXTRA type sizes); None for any other chart."""
    if not isinstance(chart, (alt.Chart, alt.LayerChart)) or not isinstance(chart.height, alt.Step):
        return None
    rows = _rows(chart)
    return int(rows * chart.height.step + STEP_EXTRA * base_size) if rows else None


def _rows(chart) -> int:
    """The rows of a chart with a height per row: distinct values of the field on its y axis."""
    rows = 0
    for part in chart.layer if isinstance(chart, alt.LayerChart) else [chart]:
        data = part.data if isinstance(part.data, pd.DataFrame) else chart.data
        encoding = getattr(part, "encoding", alt.Undefined)
        y = alt.Undefined if encoding is alt.Undefined else encoding.y
        if not isinstance(y, alt.Y) or not isinstance(data, pd.DataFrame):
            continue
        field = y.to_dict(validate=False).get("field")
        if field in data.columns:
            rows = max(rows, int(data[field].nunique()))
    return rows


_VIEWPORT_JS = """
export default function (component) {
  const { setStateValue, data } = component;
  let last = data && data.known ? data.known.join("x") : null;
  let timer = null;
  const report = () => {
    const size = [window.innerWidth, window.innerHeight];
    if (size[0] > 0 && size[1] > 0) {
      document.cookie = "cx_viewport=" + size.join("x") + "; path=/; max-age=31536000; SameSite=Strict";
    }
    if (size[0] > 0 && size[1] > 0 && size.join("x") !== last) {
      last = size.join("x");
      setStateValue("size", size);
    }
  };
  report();
  const later = () => { clearTimeout(timer); timer = setTimeout(report, 300); };
  window.addEventListener("resize", later);
  return () => { clearTimeout(timer); window.removeEventListener("resize", later); };
}
"""
_viewport = st.components.v2.component("cx_pilot_tracker_viewport", js=_VIEWPORT_JS)


def viewport(known: tuple[int, int] | None = None) -> tuple[int, int] | None:
    """The browser window's inner size in CSS pixels (width, height), as its JavaScript reports it
    once shown and after each resize; None until it has (and always under AppTest, which runs no
    JavaScript). `known`: the size this session already knows (remembered_viewport), which the
    browser then reports only if it differs, so that entering present mode again costs no rerun.
    The browser also keeps the size in a cookie for the next visit."""
    reported = _viewport(key="present_viewport", data={"known": list(known) if known else None},
                         default={"size": None}, on_size_change=lambda: None)
    size = reported.get("size")
    return (int(size[0]), int(size[1])) if size else None


def remembered_viewport() -> tuple[int, int] | None:
    """The window size this browser reported on an earlier visit (its cookie), if any."""
    try:
        width, height = (int(part) for part in st.context.cookies.get("cx_viewport", "").split("x"))
    except ValueError:
        return None
    return (width, height) if 0 < width < 20_000 and 0 < height < 20_000 else None
