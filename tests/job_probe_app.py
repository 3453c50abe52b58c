"""A one-page Streamlit script for the browser test of a job's "is the session still
there?" probe: it starts a job that runs until cancelled and writes how it ended to
``$JOB_PROBE_OUT``. Not part of the app."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import streamlit as st

from demo_core.jobs import Job
from demo_ui.xcomposer_common import session_alive_probe

if "job" not in st.session_state:

    def work(job: Job) -> None:
        while not job.cancelled:
            time.sleep(0.05)

    job = Job("probe", "Probe", work, alive=session_alive_probe())
    st.session_state.job = job.start()

    def record() -> None:
        job.wait()
        Path(os.environ["JOB_PROBE_OUT"]).write_text(str(job.end_reason))

    threading.Thread(target=record, daemon=True).start()
st.write("job running")
