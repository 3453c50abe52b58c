"""The "How it works" panel's logic: the prompt as tokens, the agent's loop, runnable code.

No Streamlit here; ``demo_ui.how_it_works`` draws what these modules compute.
"""
