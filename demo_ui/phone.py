"""Phone layout: close the sidebar after a page is tapped in it.

On a narrow screen the sidebar overlays the page, and after a page is chosen in it the new
page opened with the sidebar still covering 75 % of it -- with the old hand-drawn menu and,
as the phone browser test shows, with ``st.navigation``'s menu in this Streamlit version too.
Streamlit has no Python call to close the sidebar, so a few lines of script in a zero-height
frame (same origin as the app) press the sidebar's close button after a tap on a page link
of the sidebar, on a screen narrower than Streamlit's ``md`` breakpoint.
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
      '[data-testid="stSidebar"] a[data-testid="stSidebarNavLink"], '
      + '[data-testid="stSidebar"] a[data-testid="stPageLink-NavLink"]');
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
