"""Entry point: ``streamlit run app.py`` serves every demo on 127.0.0.1:6006.

The page list lives here (not in the pages/ folder names) so titles and icons read well
and a page whose module is missing never breaks the others.
"""

from pathlib import Path

import streamlit as st

from demo_ui.home import DEMOS, render_home

here = Path(__file__).parent
pages = [st.Page(render_home, title="Home", icon="🏠", default=True)]
pages += [
    st.Page(f"pages/{file}", title=title, icon=icon)
    for file, icon, title, _ in DEMOS
    if (here / "pages" / file).exists()
]
st.navigation(pages).run()
