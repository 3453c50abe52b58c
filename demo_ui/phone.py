"""Phone layout: close the sidebar after a page is tapped in it.

Streamlit's own page menu (``st.navigation``) closes the sidebar on a narrow screen when
a page is chosen; a page link drawn with ``st.page_link`` (our menu) does not, so on a
phone the new page opened with the sidebar still covering 75 % of it. Streamlit has no
Python call to close the sidebar, so a few lines of script in a zero-height component
(same origin as the app) do what its own menu does: a tap on a sidebar page link on a
screen narrower than Streamlit's ``md`` breakpoint presses the sidebar's close button.
Once the menu is ``st.navigation`` this is not needed (tests/test_class_ready_browser.py
checks the behaviour, whichever draws the menu).
"""

from __future__ import annotations

import streamlit as st

PHONE_MAX_WIDTH_PX = 768  # Streamlit's md breakpoint: below it the sidebar overlays the page

_SCRIPT = """
<script>
(() => {
  const doc = window.parent.document;
  if (doc.__demoStudioCloseSidebarOnTap) return;
  doc.__demoStudioCloseSidebarOnTap = true;
  doc.addEventListener("click", (event) => {
    const link = event.target.closest && event.target.closest(
      '[data-testid="stSidebar"] a[data-testid="stPageLink-NavLink"]');
    if (!link || window.parent.innerWidth > PHONE_MAX) return;
    const close = doc.querySelector('[data-testid="stSidebarCollapseButton"] button')
      || doc.querySelector('[data-testid="stSidebarCollapseButton"]');
    if (close) setTimeout(() => close.click(), 50);
  }, true);
})();
</script>
""".replace("PHONE_MAX", str(PHONE_MAX_WIDTH_PX))


def close_sidebar_after_tap() -> None:
    """Install (once per browser tab) the listener described in the module docstring."""
    if hasattr(st, "iframe"):  # Streamlit >= 1.5x; components.html is deprecated there
        st.iframe(_SCRIPT, height=1)
    else:  # pragma: no cover - older Streamlit
        import streamlit.components.v1 as components

        components.html(_SCRIPT, height=0)
