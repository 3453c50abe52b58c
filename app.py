"""Home page and entry point: ``streamlit run app.py`` serves every demo on 127.0.0.1:6006.

The demos are the files in pages/; the sidebar menu is drawn by ``demo_ui.widgets``
(Streamlit's own is hidden in .streamlit/config.toml) so it can say "Home" and show icons.
"""

from demo_ui.home import render_home

render_home()
