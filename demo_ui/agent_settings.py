"""The data agent's sidebar settings: model, tools, limits and system prompts, read into
one :class:`~demo_core.agent.session.AgentSettings` for the question about to be asked.

Every widget keeps its value across pages (:func:`~demo_ui.widgets.keep`) under the
``data_agent_`` keys that tests and the page's state rely on.
"""

from __future__ import annotations

import streamlit as st

from demo_core.agent.actions import OFFLINE_PLUGINS
from demo_core.agent.agent import (
    DEFAULT_INTERPRETER_PROMPT,
    DEFAULT_META_PROMPT,
    DEFAULT_PLUGIN_PROMPT,
)
from demo_core.agent.online_plugins import ONLINE_HELP, ONLINE_PLUGINS
from demo_core.agent.react_agent import is_first_generation_key
from demo_core.agent.session import DEFAULT_MODEL, AgentSettings
from demo_core.i18n import _
from demo_core.serving import served_label
from demo_core.specs import CHAT_MODELS, SPECS
from demo_ui.agent_workspace import P
from demo_ui.widgets import first_available, keep, model_label, usable

PROMPT_DEFAULTS = {
    "meta_prompt": DEFAULT_META_PROMPT,
    "interpreter_prompt": DEFAULT_INTERPRETER_PROMPT,
    "plugin_prompt": DEFAULT_PLUGIN_PROMPT,
}


def model_choice() -> str:
    """The model, and one line on it: random, served elsewhere, or not here yet (with
    where to get it: the agent's 7B is the model students most often lack)."""
    keep(P + "model", first_available(CHAT_MODELS, DEFAULT_MODEL))
    model_key = st.selectbox(_("Model"), CHAT_MODELS, key=P + "model", format_func=model_label)
    spec = SPECS[model_key]
    if spec.is_random:
        st.warning(_("Tiny random test model: its answers are noise."), icon="🎲")
    elif served_label(model_key):
        st.caption(served_label(model_key))
    elif not usable(model_key):
        st.info(
            _(
                "{model} is not on this machine. Download it on the Models page or set {env}."
            ).format(model=spec.label, env=spec.env_var),
            icon="📦",
        )
    return model_key


def plugin_choice() -> list[str]:
    """The plugins picked, offline ones first, then those that need the internet."""
    keep(P + "plugins", [])
    plugins = st.multiselect(
        _("Plugins (offline)"),
        list(OFFLINE_PLUGINS),
        key=P + "plugins",
        help=_("Work without internet."),
        placeholder=_("Choose plugins"),
    )
    keep(P + "online_plugins", [])
    return plugins + st.multiselect(
        _("Plugins (online)"),
        list(ONLINE_PLUGINS),
        key=P + "online_plugins",
        help=_(ONLINE_HELP),
        placeholder=_("Choose plugins"),
    )


def prompt_editor() -> dict[str, str]:
    """The three system prompts, editable in an expander, with a reset to the defaults;
    keyed like :class:`AgentSettings`' fields."""
    with st.expander(_("System prompts")):
        for name, default in PROMPT_DEFAULTS.items():
            keep(P + name, default)
        prompts = {
            "meta_prompt": st.text_area(_("System prompt"), key=P + "meta_prompt", height=80),
            "interpreter_prompt": st.text_area(
                _("Interpreter prompt"), key=P + "interpreter_prompt", height=150
            ),
            "plugin_prompt": st.text_area(
                _("Plugin prompt ({prompt} = the tool list)"), key=P + "plugin_prompt", height=100
            ),
        }
        if st.button(_("Reset prompts"), key=P + "reset_prompts"):
            for name in PROMPT_DEFAULTS:
                st.session_state.pop(P + name, None)
                st.session_state.pop("_kept_" + P + name, None)
            st.rerun()
    return prompts


def agent_settings() -> AgentSettings:
    """Draw the settings in order (model, interpreter, plugins, limits, prompts) and
    return them; the "How it works" flag on its generation parameters is the page's."""
    model_key = model_choice()
    keep(P + "interpreter", True)
    interpreter = st.toggle(_("Data analysis (Python interpreter)"), key=P + "interpreter")
    plugins = plugin_choice()
    if is_first_generation_key(model_key):
        st.caption(
            _(
                "First-generation InternLM: the agent speaks lagent's ReAct protocol "
                "(Thought / Action / Action Input / Final Answer), as the camp-1 demo did; the "
                "InternLM2 prompts below are not used."
            )
        )
    keep(P + "max_turns", 7)
    max_turns = st.slider(_("Max turns per question"), 1, 15, key=P + "max_turns")
    keep(P + "timeout", 60)
    timeout_s = st.slider(_("Time limit per code run (s)"), 5, 300, step=5, key=P + "timeout")
    return AgentSettings(
        model_key=model_key,
        interpreter=interpreter,
        plugins=tuple(plugins),
        max_turns=max_turns,
        timeout_s=float(timeout_s),
        **prompt_editor(),
    )
