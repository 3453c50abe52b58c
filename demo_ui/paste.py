"""A box that takes images pasted from the clipboard (Ctrl+V / Cmd+V).

``st.file_uploader`` cannot receive a paste, and ``st.chat_input`` can but clears the
typed question on submit. This small component only listens for a paste on itself, so
pasting text anywhere else on the page is untouched; each pasted image is sent to
Python as a data URL, and the page keeps it with the question's other images.

All images of one paste travel in one trigger value (a list): a trigger value is what
Python sees of the component on its next run, so one value per image kept only the last
image of a multi-image paste.
"""

from __future__ import annotations

import streamlit as st

from demo_core.i18n import _

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
  const { setTriggerValue, parentElement, data } = component;
  const box = parentElement.querySelector('.paste-box');
  if (box && data && data.label) box.textContent = data.label;  // in the page's language
  if (!box || box.dataset.ready) return;
  box.dataset.ready = '1';
  box.addEventListener('paste', async (event) => {
    const items = Array.from((event.clipboardData || {}).items || []);
    const images = items.filter((i) => i.kind === 'file' && i.type.startsWith('image/'));
    if (images.length === 0) { setTriggerValue('pasted', [{error: 'no image'}]); return; }
    event.preventDefault();
    // getAsFile() must run now, while the clipboard data is still readable
    const read = (file) => new Promise((resolve) => {
      if (!file) { resolve({error: 'unreadable'}); return; }
      const reader = new FileReader();
      reader.onload = () => resolve({name: file.name || '', type: file.type, url: reader.result});
      reader.onerror = () => resolve({name: file.name || '', type: file.type, error: 'unreadable'});
      reader.readAsDataURL(file);
    });
    const pasted = await Promise.all(images.map((item) => read(item.getAsFile())));
    setTriggerValue('pasted', pasted);
  });
}
"""

_paste_box = st.components.v2.component(
    "demo_studio_paste_image", html=_HTML, css=_CSS, js=_JS, isolate_styles=False
)


def paste_box(key: str) -> list[dict] | None:
    """Render the box; in the run that follows a paste, returns one dict per pasted item
    (``{"name", "type", "url"}``, or ``{"error"}`` for something that was not an image),
    else None."""
    result = _paste_box(
        key=key,
        data={"label": "📋 " + _("Click here, then paste an image (Ctrl+V)")},
        on_pasted_change=lambda: None,
    )
    value = getattr(result, "pasted", None)
    if value is None:
        return None
    items = value if isinstance(value, list) else [value]
    return [i if isinstance(i, dict) else {"error": "unexpected"} for i in items]
