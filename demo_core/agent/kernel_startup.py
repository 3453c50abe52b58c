"""The kernel's start-up code: the one place that says what every new kernel runs first.

The app runs :data:`STARTUP_CODE` as the first cell of each kernel (inside the sandbox,
after the launcher dropped privileges and set the limits), so the first analysis does not
pay for these imports and their time never counts against a cell's timeout. Tables are
sent as the Table Schema JSON pandas produces, so the UI shows them as data, never as raw
HTML. Add further start-up steps (e.g. a font setup for CJK plot labels) as another
string in :data:`STARTUP_STEPS`; fonts of site-packages and ``/usr/share/fonts`` are
mounted read-only inside the sandbox.
"""

from __future__ import annotations

PLOTTING = """\
import matplotlib
matplotlib.use("module://matplotlib_inline.backend_inline")
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt
pd.set_option("display.html.table_schema", True)
pd.set_option("display.max_rows", 60)
pd.set_option("display.max_columns", 30)
plt.rcParams["figure.dpi"] = 100
"""

STARTUP_STEPS: list[str] = [PLOTTING]


def startup_code() -> str:
    """All start-up steps as one cell."""
    return "\n".join(STARTUP_STEPS)
