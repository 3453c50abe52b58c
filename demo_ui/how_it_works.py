"""The "How it works" panel: what the model saw, how it picked each token, the code.

Off by default; the sidebar toggle is one preference for the whole workspace
(``demo_ui.prefs``), so a teacher turns it on once and every demo shows it. While it is
open, requests are made with ``GenerationParams(explain=True)`` and the engine records
into ``Generation.trace`` (``demo_core.engine.recorder``); while it is closed nothing is
recorded and nothing here runs.

Pages call one function each: :func:`toggle` in the sidebar, :func:`flag` on the params
they send, :func:`remember` where a reply's generation starts, and a ``*_panel`` where the
panel goes. Everything drawn is computed in ``demo_core.explain``.

Tokens are drawn as HTML (``st.html``): a role colour per prompt token with its id on
hover, a probability colour per reply token whose alternatives open on click (CSS
``:focus``, so no rerun and no JavaScript).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import replace

import streamlit as st

from demo_core.engine.base import EngineError, GenerationParams
from demo_core.engine.trace import TokenStep, Trace
from demo_core.explain.prompt_view import ROLE_COLOURS, Segment, left_out, segments
from demo_core.i18n import N_, _, ngettext
from demo_ui.prefs import get_pref, set_pref

PREF = "how_it_works_open"
KEEP = 20  # replies whose traces are kept per conversation

ROLE_LABELS = {
    "system": N_("system prompt"),
    "user": N_("user"),
    "assistant": N_("assistant"),
    "tool_call": N_("tool call"),
    "environment": N_("tool result"),
    "image": N_("image"),
    "special": N_("special token"),
}

CSS = """
<style>
.hiw-box{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:0.82rem;line-height:1.9;
 white-space:pre-wrap;word-break:break-word;color:#111;}
.hiw-tok{border-radius:3px;padding:1px 0;margin:0 1px 0 0;}
.hiw-sp{font-weight:700;outline:1px solid #6b7280;}
.hiw-img{display:inline-block;border:2px dashed #a21caf;border-radius:6px;padding:2px 8px;
 background:#f5d0fe;font-weight:700;}
.hiw-out{opacity:.55;text-decoration:line-through;border-left:3px solid #9ca3af;
 padding-left:6px;margin:2px 0;}
.hiw-legend span{margin-right:10px;padding:1px 6px;border-radius:3px;color:#111;
 font-size:0.8rem;}
.hiw-t{position:relative;cursor:pointer;border-radius:3px;padding:1px 0;color:#111;}
.hiw-t:focus{outline:2px solid #2563eb;}
.hiw-pop{display:none;position:absolute;z-index:10;left:0;top:1.7em;background:#fff;
 border:1px solid #9ca3af;border-radius:6px;padding:6px 8px;min-width:17em;
 box-shadow:0 4px 14px rgba(0,0,0,.18);white-space:normal;line-height:1.35;}
.hiw-t:focus .hiw-pop{display:block;}
.hiw-pop table{border-collapse:collapse;width:100%;}
.hiw-pop td{padding:1px 4px;font-size:0.78rem;}
.hiw-pop .hiw-chosen{font-weight:700;background:#dbeafe;}
</style>
"""


# -- the switch and the flag ------------------------------------------------------------
def is_open() -> bool:
    return bool(get_pref(PREF, False))


def _store() -> None:
    set_pref(PREF, bool(st.session_state.get("hiw_toggle")))


def toggle() -> bool:
    """The sidebar switch (one for every page, remembered for the workspace)."""
    return st.toggle(
        _("🔍 How it works"),
        value=is_open(),
        key="hiw_toggle",
        on_change=_store,
        help=_(
            "Show the prompt as the model sees it, the probability of every token, a "
            "one-token-at-a-time step mode and the Python behind the demo. Recording costs a "
            "little speed, so it is off by default."
        ),
    )


def flag(params: GenerationParams) -> GenerationParams:
    """``params`` with recording on while the panel is open (unchanged otherwise)."""
    return replace(params, explain=True) if is_open() and not params.explain else params


def remember(scope: str, owner: object, gen=None, *, trace: Trace | None = None) -> None:
    """Keep the trace of ``gen`` (or ``trace``) with ``owner`` (a reply turn) for the
    panel of ``scope``; nothing when the request was not recorded."""
    trace = trace if trace is not None else getattr(gen, "trace", None)
    if trace is None or owner is None:
        return
    kept = st.session_state.setdefault(f"_hiw_{scope}", [])
    kept[:] = [k for k in kept if not _same(k[0], owner)]  # a live reply is seen every run
    kept.append((owner, trace, gen))
    del kept[:-KEEP]


def _same(a: object, b: object) -> bool:
    """Owners are reply objects (matched by identity) or stored message ids (by value)."""
    return a is b or (isinstance(a, str) and a == b)


def _traces(scope: str, owners: Sequence[object]) -> list[tuple[int, Trace, object]]:
    """(position in ``owners``, trace, generation) for every owner that has one."""
    kept = st.session_state.get(f"_hiw_{scope}", [])
    out = []
    for pos, owner in enumerate(owners):
        for o, trace, gen in kept:
            if _same(o, owner):
                out.append((pos, trace, gen))
    return out


# -- drawing helpers ----------------------------------------------------------------------
def _visible(text: str) -> str:
    """A piece for inline display: newlines as ↵ (and a real line break)."""
    return html.escape(text).replace("\n", "↵\n")


def _role_label(role: str) -> str:
    return _(ROLE_LABELS.get(role, role))


def legend(roles: Sequence[str]) -> str:
    spans = "".join(
        f'<span style="background:{ROLE_COLOURS.get(r, "#eee")}">{html.escape(_role_label(r))}</span>'
        for r in dict.fromkeys(roles)
    )
    return f'<div class="hiw-legend">{spans}</div>'


def prompt_html(segs: Sequence[Segment], placeholder: str = "") -> str:
    parts = []
    for seg in segs:
        colour = ROLE_COLOURS.get(seg.role, "#eee")
        if seg.image is not None:
            label = _("image {n}: {k} image tokens").format(n=seg.image + 1, k=seg.image_tokens)
            if placeholder:
                label = f"{placeholder} → {label}"
            shown = html.escape(label)  # the placeholder, <ImageHere>, is text, not a tag
            parts.append(f'<span class="hiw-img" title="{shown}">🖼 {shown}</span>')
            continue
        for tok in seg.tokens:
            cls = "hiw-tok hiw-sp" if tok.special else "hiw-tok"
            title = _("id {id} · {role}").format(id=tok.id, role=_role_label(seg.role))
            parts.append(
                f'<span class="{cls}" style="background:{colour}" '
                f'title="{html.escape(title)}" data-id="{tok.id}">{_visible(tok.text)}</span>'
            )
    return f'<div class="hiw-box">{"".join(parts)}</div>'


def prompt_view(trace: Trace) -> None:
    """The prompt as token runs: colour by role, id on hover, count, what was left out."""
    if trace.piece is None or not trace.parts:  # a server: it has the tokens, not us
        st.info(
            _(
                "The model server tokenizes the prompt itself and does not send the ids back: "
                "shown is the text our chat template makes of the conversation (the server "
                "applies its own template)."
            )
            if trace.source == "openai"
            else _("This request recorded no prompt tokens.")
        )
        if trace.prompt_text:
            st.code(trace.prompt_text, language=None, wrap_lines=True)
        return
    segs = segments(trace, trace.piece)
    images = sum(1 for s in segs if s.image is not None)
    count = _("{n} tokens go into the model").format(n=trace.prompt_tokens)
    if images:
        count += " · " + ngettext(
            "{k} of them stand for {i} image",
            "{k} of them stand for {i} images",
            images,
        ).format(k=sum(s.image_tokens for s in segs), i=images)
    if trace.context_window:
        count += " · " + _("context window {w}").format(w=trace.context_window)
    st.caption(count + " · " + _("hover a token for its id"))
    dropped = left_out(trace)
    out = ""
    if dropped:
        st.warning(
            _("{n} older message(s) were left out to fit the context window:").format(
                n=len(dropped)
            ),
            icon="✂️",
        )
        out = "".join(
            f'<div class="hiw-out">{html.escape(m["role"])}: {html.escape(str(m["content"]))}</div>'
            for m in dropped
        )
    st.html(CSS + legend([s.role for s in segs]) + out + prompt_html(segs, trace.placeholder))


def _label(text: str) -> str:
    """A token for a chart axis or a table: spaces and newlines made visible."""
    return text.replace(" ", "␣").replace("\n", "↵") or "∅"


def _prob_colour(p: float | None) -> str:
    if p is None:
        return "#e5e7eb"
    return f"hsl({round(120 * max(0.0, min(1.0, p)))},75%,80%)"


def _popup(step: TokenStep, n: int) -> str:
    def chosen(a) -> bool:  # a server's logprobs name tokens by text only (id -1)
        return a.token_id == step.token_id if step.token_id >= 0 else a.text == step.text

    rows = [
        f'<tr class="{"hiw-chosen" if chosen(a) else ""}">'
        f"<td>{html.escape(_label(a.text))}</td><td>{a.prob:.1%}</td>"
        f"<td>{'' if a.raw_prob is None else f'{a.raw_prob:.1%}'}</td></tr>"
        for a in step.top
    ]
    head = _("step {n}: drawn {tok} ({p})").format(
        n=n + 1,
        tok=html.escape(_label(step.text)),
        p="?" if step.prob is None else f"{step.prob:.1%}",
    )
    greedy = (
        _("raw greedy would pick {tok} ({p})").format(
            tok=html.escape(_label(step.greedy_text)), p=f"{step.greedy_prob:.1%}"
        )
        if step.greedy_id is not None and step.greedy_prob is not None
        else _("raw greedy: not known")
    )
    # the headers outside the f-string: Babel does not find a _() inside one
    headers = (_("token"), _("settings"), _("raw"))
    cols = "<tr>" + "".join(f"<td><b>{h}</b></td>" for h in headers) + "</tr>"
    return f'<span class="hiw-pop"><b>{head}</b><br>{greedy}<table>{cols}{"".join(rows)}</table></span>'


def tokens_html(steps: Sequence[TokenStep]) -> str:
    spans = [
        f'<span class="hiw-t" tabindex="0" style="background:{_prob_colour(s.prob)}" '
        f'data-step="{i}">{_visible(s.text)}{_popup(s, i)}</span>'
        for i, s in enumerate(steps)
    ]
    return f'<div class="hiw-box">{"".join(spans)}</div>'


def distribution_chart(step: TokenStep) -> None:
    """The step's top-k as bars: probability under the settings, and the raw one."""
    import altair as alt
    import pandas as pd

    seen: dict[str, int] = {}
    rows = []
    for a in step.top:
        name = _label(a.text)
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            name = f"{name} #{a.token_id}"
        rows.append({"token": name, "kind": _("with your settings"), "p": a.prob})
        if a.raw_prob is not None:
            rows.append({"token": name, "kind": _("raw (temperature 1)"), "p": a.raw_prob})
    if not rows:
        return
    df = pd.DataFrame(rows)
    chart = (
        alt.Chart(df)
        .mark_bar()
        .encode(
            x=alt.X("token:N", sort=None, title=None, axis=alt.Axis(labelAngle=0)),
            xOffset="kind:N",
            y=alt.Y("p:Q", title=_("probability"), axis=alt.Axis(format="%")),
            color=alt.Color("kind:N", title=None, legend=alt.Legend(orient="top")),
            tooltip=["token", "kind", alt.Tooltip("p:Q", format=".2%")],
        )
        .properties(height=260)
    )
    st.altair_chart(chart, width="stretch")


def probabilities_view(trace: Trace, key: str) -> None:
    steps = trace.token_steps()
    if not steps:
        st.info(trace.note or _("No tokens were recorded for this reply."))
        return
    if trace.note:
        st.caption(trace.note)
    s = trace.settings
    if s:
        st.caption(
            _(
                "Colour = probability of the drawn token (red low, green high) under "
                "temperature {t}, top-p {p}, top-k {k}, repetition penalty {r}{greedy}. "
                "Click a token for its alternatives."
            ).format(
                t=s.get("temperature"),
                p=s.get("top_p"),
                k=s.get("top_k"),
                r=s.get("repetition_penalty"),
                greedy="" if s.get("do_sample", True) else " " + _("(greedy)"),
            )
        )
    st.html(CSS + tokens_html(steps))
    n = st.number_input(_("Look closer at token number"), 1, len(steps), 1, key=f"{key}_step")
    step = steps[int(n) - 1]
    distribution_chart(step)
    if step.greedy_id is not None and step.greedy_id != step.token_id:
        st.caption(
            _("Drawn: {a}. Raw greedy decoding would have written {b} here.").format(
                a=_label(step.text), b=_label(step.greedy_text)
            )
        )


def code_view(code: str, caption: str) -> None:
    st.caption(caption)
    st.code(code, language="python", line_numbers=False)


# -- step mode ------------------------------------------------------------------------------
def _step_signature(ids: Sequence[int], params: GenerationParams) -> tuple:
    return (
        tuple(ids),
        params.temperature,
        params.top_p,
        params.top_k,
        params.repetition_penalty,
        params.do_sample,
        params.seed,
    )


def next_token(engine, ids: Sequence[int], params: GenerationParams) -> TokenStep | None:
    """One forward pass through the engine's queue: the distribution for the next token
    under ``params`` and the token drawn from it."""
    one = replace(params, max_new_tokens=1, explain=True, stop_words=())
    gen = engine.stream_ids(list(ids), one)
    gen.result()
    steps = gen.trace.token_steps() if gen.trace is not None else []
    return steps[0] if steps else None


def step_mode(engine, start_ids: Sequence[int], params: GenerationParams, key: str) -> None:
    """Generate one token per click from ``start_ids``, the distribution drawn each time.

    Changing the sampling settings redraws the distribution of the current step, so a
    class can watch temperature flatten it. Each click is one forward pass."""
    if not hasattr(engine, "stream_ids"):
        st.info(_("Step mode needs a model that runs inside this app (not a server)."))
        return
    ss = st.session_state
    state = ss.get(f"{key}_state")
    if state is None or state["start"] != list(start_ids):
        state = ss[f"{key}_state"] = {"start": list(start_ids), "picked": []}
    ids = state["start"] + [t for t, _text in state["picked"]]
    sig = _step_signature(ids, params)
    cached = ss.get(f"{key}_dist")
    if cached is None or cached[0] != sig:
        with st.spinner(_("One forward pass…")):
            try:
                step = next_token(engine, ids, params)
            except EngineError as exc:
                st.warning(str(exc))
                return
        ss[f"{key}_dist"] = cached = (sig, step)
    step = cached[1]

    def take(token_id: int, text: str) -> None:
        state["picked"].append((token_id, text))

    def back() -> None:
        if state["picked"]:
            state["picked"].pop()

    def restart() -> None:
        state["picked"].clear()

    st.caption(
        _(
            "The reply again, one token per click, from the same prompt. Change temperature, "
            "top-p or top-k in the sidebar: the bars of this step change with them."
        )
    )
    written = "".join(text for _t, text in state["picked"])
    st.html(
        CSS
        + '<div class="hiw-box" style="border:1px solid #d1d5db;border-radius:6px;padding:6px;'
        + 'min-height:2.4em;background:#f9fafb">'
        + (_visible(written) if written else html.escape(_("(nothing yet)")))
        + "▌</div>"
    )
    if step is None:
        st.warning(_("The model returned no distribution."))
        return
    row = st.container(horizontal=True, gap="small")
    row.button(
        _("▶ Next token"),
        key=f"{key}_next",
        type="primary",
        on_click=take,
        args=(step.token_id, step.text),
        help=_("Take the token drawn with your settings"),
    )
    if step.greedy_id is not None:
        row.button(
            _("Take raw greedy: {tok}").format(tok=_label(step.greedy_text)),
            key=f"{key}_greedy",
            on_click=take,
            args=(step.greedy_id, step.greedy_text),
        )
    row.button(_("⏮ Back"), key=f"{key}_back", on_click=back, disabled=not state["picked"])
    row.button(_("⟲ Restart"), key=f"{key}_restart", on_click=restart)
    st.markdown(
        _("**Step {n}** · drawn: `{tok}` ({p})").format(
            n=len(state["picked"]) + 1,
            tok=_label(step.text),
            p="?" if step.prob is None else f"{step.prob:.1%}",
        )
    )
    distribution_chart(step)
    if step.top:
        labels = {a.token_id: f"{_label(a.text)} ({a.prob:.1%})" for a in step.top}
        c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
        choice = c1.selectbox(
            _("Or take another candidate"), list(labels), format_func=labels.get, key=f"{key}_pick"
        )
        texts = {a.token_id: a.text for a in step.top}
        c2.button(
            _("Take it"), key=f"{key}_take", on_click=take, args=(choice, texts.get(choice, ""))
        )


# -- panels -----------------------------------------------------------------------------------
def _view(key: str, views: Sequence[str]) -> str:
    choice = st.segmented_control(
        _("Show"),
        list(views),
        default=views[0],
        format_func=_,
        key=f"{key}_view",
        label_visibility="collapsed",
    )
    return choice or views[0]


def _loaded_engine(model_key: str):
    from demo_ui.resources import get_manager

    manager = get_manager()
    return manager.get(model_key) if manager.is_loaded(model_key) else None


def _show(key: str, views: dict[str, Callable[[], None]]) -> None:
    """A panel's view picker over ``views`` (a marked label → what draws that view), then the
    chosen view."""
    views[_view(key, tuple(views))]()


def _code(model_key: str, snippet: Callable[[str], str], caption: str) -> None:
    """The "Code" view: ``snippet`` of the loaded model's local folder, or why there is none."""
    engine = _loaded_engine(model_key)
    path = engine.info.extra.get("path") if engine is not None else None
    if not path:
        st.info(_("This model runs on a server: there is no local folder to load."))
        return
    code_view(snippet(path), caption)


def _pick_reply(found: list, key: str, what: str) -> tuple:
    if len(found) == 1:
        return found[0]
    labels = {i: what.format(n=pos + 1) for i, (pos, _t, _g) in enumerate(found)}
    i = st.selectbox(
        _("Which reply"), list(labels), index=len(found) - 1, format_func=labels.get, key=key
    )
    return found[i]


def _reply_panel(
    scope: str,
    turns: Sequence[object],
    empty: str,
    what: str,
    views: Callable[[int, Trace, str], dict[str, Callable[[], None]]],
) -> None:
    """A panel over recorded replies (chat, Q&A): the heading, the chosen reply of ``turns``
    (``what`` labels each, ``empty`` is the hint while none was recorded), then its views:
    "Prompt" and "Probabilities" of its trace, then ``views(position, trace, key)``."""
    key = f"hiw_{scope}"
    with st.container(border=True, key=f"{key}_panel"):
        st.markdown("#### " + _("🔍 How it works"))
        found = _traces(scope, turns)
        if not found:
            st.caption(empty)
            return
        pos, trace, _gen = _pick_reply(found, f"{key}_reply", what)
        _show(
            key,
            {
                N_("Prompt"): lambda: prompt_view(trace),
                N_("Probabilities"): lambda: probabilities_view(trace, key),
                **views(pos, trace, key),
            },
        )


def chat_panel(
    scope: str, turns: Sequence[object], model_key: str, params: GenerationParams
) -> None:
    """The panel under a chat (story, Bajie): the newest reply's prompt, tokens and code."""
    if not is_open():
        return
    from demo_core.explain.snippets import chat_snippet

    params = replace(params, explain=False)

    def views(_pos: int, trace: Trace, key: str) -> dict[str, Callable[[], None]]:
        def step() -> None:
            engine = _loaded_engine(model_key)
            if engine is None:
                st.info(_("Load the model (send a message) to use step mode."))
            else:
                step_mode(engine, trace.prompt_ids, params, key)

        def snippet(path: str) -> str:
            dropped = left_out(trace)
            kept = [m for m in trace.messages if not any(m is d for d in dropped)]
            return chat_snippet(path, kept, params)

        caption = _(
            "This reply from a terminal: save as chat.py in the app's folder and run "
            "`.venv/bin/python chat.py`. With sampling off (temperature 0) it prints "
            "exactly the page's reply."
        )
        return {N_("Step mode"): step, N_("Code"): lambda: _code(model_key, snippet, caption)}

    _reply_panel(
        scope,
        turns,
        _(
            "Send a message: the prompt the model reads, the probability of each token "
            "and the code behind the reply appear here."
        ),
        _("message {n}"),
        views,
    )


def agent_panel(turns: Sequence[object], model_key: str, settings) -> None:
    """The panel under the data agent: the newest question's loop as a diagram, each
    model call's prompt and tokens, and lagent's loop as code."""
    if not is_open():
        return
    from demo_core.explain.agent_loop import loop_dot, loop_rows
    from demo_core.explain.snippets import agent_snippet

    key = "hiw_agent"
    with st.container(border=True, key=f"{key}_panel"):
        st.markdown("#### " + _("🔍 How it works"))
        if not turns:
            st.caption(
                _(
                    "Ask a question: the agent's loop of thought, tool call and result appears "
                    "here, with the prompt of every model call."
                )
            )
            return
        turn = turns[-1]

        def loop() -> None:
            st.caption(
                _(
                    "Each model call either asks for a tool (its code runs, the result goes "
                    "back into the prompt) or answers. Times and token counts per call."
                )
            )
            st.graphviz_chart(loop_dot(turn), width="stretch")
            st.dataframe(loop_rows(turn), hide_index=True, width="stretch")

        def call(view: Callable[[Trace, str], None]) -> None:
            traces = getattr(turn, "traces", {})
            if not traces:
                st.info(_("Turn the panel on before asking: then every model call is recorded."))
                return
            calls = sorted(traces)
            i = st.selectbox(
                _("Model call"),
                calls,
                index=len(calls) - 1,
                format_func=lambda n: _("call {n}").format(n=n + 1),
                key=f"{key}_call",
            )
            view(traces[i], f"{key}_{i}")

        def snippet(path: str) -> str:
            return agent_snippet(
                path,
                turn.question,
                replace(settings.params, explain=False),
                settings.meta_prompt,
                settings.interpreter_prompt,
                settings.max_turns,
                settings.interpreter,
            )

        caption = _(
            "lagent's agent loop on the same model, from a terminal: save as agent.py "
            "in the app's folder and run `.venv/bin/python agent.py`. Its interpreter is "
            "lagent's own Jupyter kernel, without this page's sandbox."
        )
        _show(
            key,
            {
                N_("Loop"): loop,
                N_("Prompt"): lambda: call(lambda trace, _key: prompt_view(trace)),
                N_("Probabilities"): lambda: call(probabilities_view),
                N_("Code"): lambda: _code(model_key, snippet, caption),
            },
        )


def qa_panel(scope: str, turns: Sequence[object], model_key: str, params: GenerationParams) -> None:
    """The panel under XComposer2's image Q&A: the interleaved prompt (text tokens and
    each image's span of embeddings), the answer's tokens, the steps as code."""
    if not is_open():
        return
    from demo_core.explain.snippets import qa_snippet

    params = replace(params, explain=False)

    def views(pos: int, _trace: Trace, _key: str) -> dict[str, Callable[[], None]]:
        turn = turns[pos]

        def snippet(path: str) -> str:
            images = [img.name for img in turn.images]
            return qa_snippet(model_key, path, turn.question, images, params)

        caption = _(
            "XComposer2's steps from a terminal: save the pictures under the names "
            "below next to qa.py in the app's folder and run `.venv/bin/python qa.py` "
            "(it asks this question alone, without the earlier turns)."
        )
        return {N_("Code"): lambda: _code(model_key, snippet, caption)}

    _reply_panel(
        scope,
        turns,
        _(
            "Ask about an image: the prompt with its image tokens, the probability of "
            "each answer token and the code behind it appear here."
        ),
        _("question {n}"),
        views,
    )


def compose_panel(scope: str, article: object) -> None:
    """The panel under XComposer2's composition: the article request's prompt (its text
    tokens and each reference image's span) and the probability of each article token."""
    if not is_open():
        return
    _reply_panel(
        scope,
        [article] if article is not None else [],
        _(
            "Compose an article: the prompt the model reads, with its image tokens, and "
            "the probability of each token it wrote appear here."
        ),
        _("article {n}"),
        lambda _pos, _trace, _key: {},
    )


def download_panel(
    model: str,
    hf_repo: str | None,
    filename: str | None,
    source: str,
    endpoint: str | None,
    dest: str,
) -> None:
    """The download form's request as code (panel open only): ``huggingface_hub`` for the
    hub or a mirror; this app's own command for ModelScope, whose API it speaks itself."""
    if not is_open() or not model:
        return
    from demo_core.explain.snippets import download_command, download_snippet

    with st.container(border=True, key="hiw_download_panel"):
        st.markdown("#### " + _("🔍 How it works"))
        if source == "hf" and hf_repo:
            code_view(
                download_snippet(hf_repo, dest, endpoint, filename),
                _("This download from a terminal: `.venv/bin/python download.py`."),
            )
        else:
            st.caption(_("This download from a terminal, with the app's own downloader:"))
            st.code(download_command(model, source, endpoint, filename, dest), language="bash")
