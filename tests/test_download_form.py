"""The Models page's download form without Streamlit: what a blank field means, which
endpoint the environment preselects, and what the form refuses."""

from __future__ import annotations

import pytest

from demo_core.download.endpoints import endpoint_choices, preselected
from demo_core.download.form import DownloadForm, FormError
from demo_core.download.hub import MIRROR, OFFICIAL
from demo_core.settings import models_dir
from demo_core.specs import SPECS


def test_the_environment_preselects_a_known_endpoint_or_the_custom_url():
    hf = endpoint_choices("hf")
    assert list(hf.values()) == [OFFICIAL, MIRROR, None]
    assert preselected(hf, "") == 0
    assert preselected(hf, MIRROR) == 1
    assert preselected(hf, "http://127.0.0.1:9") == 2
    ms = endpoint_choices("modelscope")
    assert list(ms.values())[-1] is None and len(ms) == 2
    assert preselected(ms, "http://127.0.0.1:9") == 1


def test_blank_fields_are_unset_and_the_default_folder_is_the_models(studio_home):
    form = DownloadForm(
        model=" internlm2-chat-1_8b ",
        one_file=True,
        file=" config.json ",
        source="hf",
        endpoint="  ",
        token=" ",
        timeout=7,
    )
    req = form.request()
    assert (req.model, req.file, req.endpoint, req.token, req.dest) == (
        "internlm2-chat-1_8b",
        "config.json",
        None,
        None,
        None,
    )
    assert req.timeout == 7.0
    tidy = DownloadForm("internlm2-chat-1_8b", True, "config.json", "hf", None)
    assert tidy.destination() == str(models_dir() / SPECS["internlm2-chat-1_8b"].folder_name)
    assert DownloadForm("x/y", True, "", "hf", None, dest=" ~/m ").destination() == "~/m"
    assert DownloadForm("x/y", False, "config.json", "hf", None).filename is None


@pytest.mark.parametrize(
    "model, one_file, file, words",
    [("  ", False, "", "repository id"), ("x/y", True, "  ", "name of the file")],
)
def test_the_form_says_what_is_missing(model, one_file, file, words):
    with pytest.raises(FormError, match=words):
        DownloadForm(model, one_file, file, "hf", None).request()


def test_how_it_works_strips_the_repository_id_as_the_download_does(studio_home):
    """A model key or repository id typed with spaces around it: the "How it works" panel
    shows the folder and hub id the download itself uses, not a folder called "model"."""
    key = "internlm2-chat-1_8b"
    spaced = DownloadForm(f"  {key} ", True, "config.json", "hf", None)
    assert spaced.destination() == str(spaced.request().destination)
    assert spaced.destination() == str(models_dir() / SPECS[key].folder_name)
    assert spaced.hf_repo() == SPECS[key].hf_id
    raw = DownloadForm("  someone/some-model ", False, "", "hf", None)
    assert raw.destination() == str(raw.request().destination) == str(models_dir() / "some-model")
    assert raw.hf_repo() == "someone/some-model"
    unfinished = DownloadForm("someone", True, "config.json", "hf", None)  # not an id yet
    assert unfinished.destination() == str(models_dir() / "model")
