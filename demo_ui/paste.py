"""A box that takes images pasted from the clipboard (Ctrl+V / Cmd+V).

``st.file_uploader`` cannot receive a paste, and ``st.chat_input`` can but clears the
typed question on submit. This small component only listens for a paste on itself, so
pasting text anywhere else on the page is untouched; each pasted image is sent to
Python once, as a data URL, and the page keeps it with the question's other images.
"""

from __future__ import annotations

import streamlit as st

_HTML = """
<div class="paste-box" tabindex="0" data-testid="pasteImageBox">
  📋 Click here, then paste an image (Ctrl+V)
</div>
"""

_CSS = """
.paste-box {
  border: 1px dashed rgba(49, 51, 63, 0.4);
  border-radius: 0.5rem;
  padding: 0.75rem 1rem;
  color: rgba(49, 51, 63, 0.7);
  cursor: text;
  font-size: 0.9rem;
}
.paste-box:focus { outline: 2px solid #ff4b4b; }
"""

_JS = """
export default function(component) {
  const { setTriggerValue, parentElement } = component;
  const box = parentElement.querySelector('.paste-box');
  if (!box || box.dataset.ready) return;
  box.dataset.ready = '1';
  box.addEventListener('paste', (event) => {
    const items = Array.from((event.clipboardData || {}).items || []);
    const images = items.filter((i) => i.kind === 'file' && i.type.startsWith('image/'));
    if (images.length === 0) { setTriggerValue('pasted', {error: 'no image'}); return; }
    event.preventDefault();
    images.forEach((item) => {
      const file = item.getAsFile();
      const reader = new FileReader();
      reader.onload = () => setTriggerValue('pasted', {name: file.name || 'pasted.png', url: reader.result});
      reader.readAsDataURL(file);
    });
  });
}
"""

_paste_box = st.components.v2.component(
    "demo_studio_paste_image", html=_HTML, css=_CSS, js=_JS, isolate_styles=False
)


def paste_box(key: str) -> dict | None:
    """Render the box; returns ``{"name", "url"}`` (or ``{"error"}``) in the run that
    follows a paste, else None."""
    result = _paste_box(key=key, on_pasted_change=lambda: None)
    return getattr(result, "pasted", None)
