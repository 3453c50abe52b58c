"""The endpoint chooser of the Models page: one mechanism for its download form and its
homework form, each under its own key prefix."""

from __future__ import annotations

from typing import Any

from demo_core.download.api import ENDPOINT_ENV
from demo_core.download.endpoints import endpoint_choices, env_endpoint, preselected
from demo_core.i18n import _


def endpoint_picker(column: Any, source: str, prefix: str = "models") -> str | None:
    """Endpoint for ``source``, drawn in ``column``: a known one, or a typed URL;
    preselects what the environment (``HF_ENDPOINT`` / ``MODELSCOPE_DOMAIN``) already
    names, so a machine set up for a mirror opens on it."""
    choices = endpoint_choices(source)
    env = env_endpoint(source)
    picked = column.selectbox(
        _("Endpoint"),
        list(choices),
        index=preselected(choices, env),
        key=f"{prefix}_endpoint_choice_{source}",
    )
    endpoint = choices[picked]
    if endpoint is None:
        endpoint = column.text_input(
            _("Custom endpoint URL"),
            value=env,
            placeholder="http://127.0.0.1:8080",
            help=_("Same meaning as {env}: the site's base URL.").format(env=ENDPOINT_ENV[source]),
            key=f"{prefix}_endpoint_url_{source}",
        )
    return endpoint
