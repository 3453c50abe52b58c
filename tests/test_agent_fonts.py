"""Chinese in the agent: a plot with a Chinese title is not tofu, no glyph warning reaches
the output or the model, and Chinese file names survive the upload, the kernel and the zip."""

from __future__ import annotations

import io
import os
import zipfile

import numpy as np
import pytest
from PIL import Image

from demo_core.agent import kernel_fonts
from demo_core.agent.kernel import KernelLimits
from demo_core.agent.registry import KernelRegistry
from demo_core.agent.session import AgentSession, AgentSettings
from tests.agent_scripted import ScriptedEngine, code_call

pytestmark = pytest.mark.timeout(180)

TITLE = "各城市销售额对比"
# the same figure in the kernel and here: fixed size and dpi, no tight bounding box
DRAW = (
    "fig = plt.figure(figsize=(4, 1))\n"
    f"fig.text(0.5, 0.5, {TITLE!r}, ha='center', va='center', fontsize=20)\n"
)


def draw_here(families: list[str], font_file: str | None = None) -> np.ndarray:
    """The title drawn in this process with the given sans-serif families."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import font_manager

    if font_file:
        font_manager.fontManager.addfont(font_file)
    with matplotlib.rc_context({"font.family": "sans-serif", "font.sans-serif": families}):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            namespace = {"plt": plt}
            exec(DRAW, namespace)  # noqa: S102 -- the same code the kernel runs
            buf = io.BytesIO()
            namespace["fig"].savefig(buf, format="png", dpi=100)
            plt.close(namespace["fig"])
    return np.asarray(Image.open(buf).convert("L"), dtype=np.float32)


def packaged_font() -> str:
    import noto_cjk_sans_otc

    return str(noto_cjk_sans_otc.FONT_PATH)


@pytest.mark.parametrize("which", ["chosen", "packaged"])
def test_the_font_file_has_every_glyph_of_the_title(which):
    """The font the kernel uses, and the PyPI one a machine without Noto CJK falls back
    to, have the Simplified Chinese face with every character; DejaVu has none."""
    from matplotlib import font_manager, ft2font

    path = kernel_fonts.cjk_font_file() if which == "chosen" else packaged_font()
    assert path is not None, "no CJK font: install noto-cjk-sans-otc (pyproject) or fonts-noto-cjk"
    font = ft2font.FT2Font(path)
    faces = [ft2font.FT2Font(path, face_index=i) for i in range(font.num_faces)]
    sc = next(f for f in faces if f.family_name == kernel_fonts.FAMILY)
    assert all(sc.get_char_index(ord(c)) for c in TITLE)
    dejavu = ft2font.FT2Font(font_manager.findfont("DejaVu Sans", fallback_to_default=False))
    assert not any(dejavu.get_char_index(ord(c)) for c in TITLE)  # what the kernel had


@pytest.fixture
def session(tmp_path_factory):
    base = tmp_path_factory.mktemp("agent-fonts")
    os.chmod(base, 0o711)
    reg = KernelRegistry(base, KernelLimits(timeout_s=30, interrupt_grace_s=2))
    s = AgentSession("fonts0", reg)
    yield s
    s.stop()
    reg.shutdown_all()


def test_a_chinese_plot_renders_and_no_glyph_warning_reaches_the_model(session):
    info = session.add_upload("销售数据.csv", "城市,销售额\n北京,120\n上海,150\n".encode())
    assert info.name == "销售数据.csv"
    code = (
        "df = pd.read_csv('销售数据.csv')\n"
        "df.plot.bar(x='城市', y='销售额', title='各城市销售额')\n"
        "plt.show()\n" + DRAW + "fig.savefig('标题图.png', dpi=100)\nplt.show()\n"
        "print('画好了')"
    )
    seen: list[str] = []

    def answer(prompt: str) -> str:
        seen.append(prompt)
        return "北京 120，上海 150。"

    engine = ScriptedEngine([code_call(code, "我来画图。"), answer])
    run = session.ask("画一张各城市销售额的柱状图", engine, AgentSettings())
    assert run.wait(120), "the run did not finish"
    turn = run.turn
    assert turn.status == "done", turn.error
    res = turn.steps[0].result
    assert res.ok and res.images, res.text()  # the bar chart (a figure without axes is not shown)
    text = res.text()
    assert "画好了" in text
    for where in (text, seen[0], session.transcript()):
        assert "Glyph" not in where and "missing from" not in where and "findfont" not in where

    # the title pixels: the kernel's image equals this process's drawing with the CJK
    # font, and differs from the DejaVu-only drawing (tofu boxes)
    kernel = np.asarray(
        Image.open(session.work_dir / "标题图.png").convert("L"), dtype=np.float32
    )
    with_cjk = draw_here([kernel_fonts.FAMILY, "DejaVu Sans"], kernel_fonts.cjk_font_file())
    tofu = draw_here(["DejaVu Sans"])
    assert kernel.shape == with_cjk.shape == tofu.shape
    same = np.abs(kernel - with_cjk).mean()
    apart = np.abs(kernel - tofu).mean()
    assert same < 0.5 and apart > 5 * max(same, 0.2), (same, apart)

    # Chinese names survive the session zip and the transcript
    zf = zipfile.ZipFile(io.BytesIO(session.files_zip()))
    names = set(zf.namelist())
    assert {"销售数据.csv", "标题图.png"} <= names, names
    assert all(i.flag_bits & 0x800 for i in zf.infolist() if not i.filename.isascii())
    assert "销售数据.csv" in session.transcript()
