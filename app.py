"""Entry point: ``streamlit run app.py`` serves every demo on 127.0.0.1:6006.

Every script run starts here (``st.navigation``): the language is set first, so every
string of the page that follows is in it; the menu comes from demo_ui.navigation.
"""

import streamlit as st

from demo_ui.home import render_home
from demo_ui.language import language_switch, mark_entry, use_language
from demo_ui.navigation import navigation
from demo_ui.phone import close_sidebar_after_tap

use_language()
page = navigation(render_home)
language_switch()
with st.sidebar:
    close_sidebar_after_tap()
mark_entry()
page.run()
