"""What every page shares: the database handle, the acting user (sign-in, or the local demo's role
switcher), and small rendering helpers and sections (users, comments, decision trail). Pages stay
thin: gather input, call `pilots`, render what it returns."""

from __future__ import annotations

import runpy
import threading
from pathlib import Path

import streamlit as st

from pilots import audit, comments, store, users
from pilots.access import Actor
from pilots.model import ValidationError
from pilots.db import Database

APP_SCRIPT = Path(__file__).resolve().parents[1] / "app.py"


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
    actor = users.actor_for(database(), st.user.get("email"))
    return (actor, "signed_in") if actor is not None else (None, "unmapped")


def fresh_form(name: str):
    """A form that keeps what was typed when a save is refused and starts empty after form_saved(name)
    (clear_on_submit would empty it whether or not the save went through). Shows the message of the
    last save above it."""
    done = st.session_state.setdefault("saved_forms", {})
    generation, message = done.get(name, (0, None))
    if message:
        st.success(message)
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
        names = {f"unit:{u.unit_id}": u.name for u in units}
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
        st.sidebar.caption(f"Signed in as **{actor.email}** · {role}")
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
    st.markdown(f"You are signed in as **{st.user.get('email') or 'an account without an e-mail address'}**, "
                f"but the CCO office has not given this address a role yet, so there is nothing to show. "
                f"Ask them to add you as an editor, the head of your unit, or a steering committee member.")
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
                    st.success(f"{who} no longer has access.")
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


def pilot_trail(pilot) -> None:
    """The end of the Pilot page: its decisions, each with the evidence frozen when it was taken
    next to today's numbers, and the comments of everyone who can see the pilot."""
    db, actor = database(), current_actor()
    taken = audit.decisions(db, actor, pilot.pilot_id)
    if taken:
        st.subheader("Decisions")
        now = None
        if any(d.evidence for d in taken):
            from pilots.analysis import analyze_pilot, case_as_dict

            now = case_as_dict(analyze_pilot(db, actor, pilot.pilot_id))
        for decision in taken:
            with st.container(border=True):
                st.markdown(f"**{decision.decision.replace('_', ' ').capitalize()}** on {decision.decided_on:%d %b %Y}, "
                            f"approved by {decision.approved_by} (recorded by {decision.recorded_by})")
                st.markdown(decision.rationale)
                if decision.evidence:
                    st.caption(f"Evidence when decided: verdict *{decision.evidence.get('verdict', '—')}*; "
                               f"today: *{now.get('verdict', '—')}*.")
                    st.dataframe(_evidence_rows(decision.evidence, now), hide_index=True, width="stretch")
                else:
                    st.caption("No evidence snapshot was kept with this decision.")
    st.subheader("Comments")
    for comment in comments.list_comments(db, actor, pilot.pilot_id):
        with st.chat_message("user", avatar=":material/person:"):
            st.markdown(f"**{comment.author}** · {comment.created_at:%d %b %Y %H:%M}")
            st.text(comment.body)
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
