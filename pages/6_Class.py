"""Class view, for the teacher: connected sessions, models, agent kernels, downloads, resets."""

from demo_core.i18n import _
from demo_ui.classroom import render_class_view
from demo_ui.widgets import page_header

page_header(
    _("Class"),
    "🏫",
    _(
        "What the server is doing for the whole class, with a cancel for anything stuck, "
        "and resets between students."
    ),
)
render_class_view()
