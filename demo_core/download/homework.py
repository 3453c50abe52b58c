"""The lesson's homework, "download config.json of <repo>", for any repository and source.

:func:`homework_request` makes the one-file request the Models page runs (through the same
verified fetcher as every download, into ``<models>/homework/<source>/<name>/``), and
:func:`equivalent_python` writes the code the lesson teaches for the same download, for the
student to copy: ``hf_hub_download`` (huggingface_hub), ``snapshot_download`` (modelscope)
or ``openxlab.model.download``.
"""

from __future__ import annotations

from pathlib import Path

from demo_core import settings
from demo_core.download.api import Request, repo_for
from demo_core.download.hub import OFFICIAL
from demo_core.specs import SPECS

FILE = "config.json"
EXAMPLES = {  # the lesson's examples, per source
    "hf": "internlm/internlm-20b",
    "modelscope": "Shanghai_AI_Laboratory/internlm-20b",
    "openxlab": "OpenLMLab/InternLM-20b",
}


def resolve_repo(model: str, source: str) -> str:
    """A spec key becomes its id on ``source``; anything else is taken as a repository id."""
    spec = SPECS.get(model.strip())
    if spec is not None:
        return repo_for(spec, source) or ""
    return model.strip().strip("/")


def homework_dir(source: str, repo_id: str) -> Path:
    return settings.models_dir() / "homework" / source / repo_id.replace("/", "--")


def homework_request(
    repo_id: str,
    source: str,
    *,
    endpoint: str | None = None,
    token: str | None = None,
    timeout: float = 8.0,
) -> Request:
    return Request(
        model=repo_id,
        file=FILE,
        source=source,
        endpoint=endpoint,
        token=token,
        dest=homework_dir(source, repo_id),
        timeout=timeout,
    )


def equivalent_python(repo_id: str, source: str, dest: Path, endpoint: str | None = None) -> str:
    """The lesson's Python for the same download (the token, if any, is never written in)."""
    local = str(dest)
    if source == "hf":
        lines = ["import os", ""]
        if endpoint and endpoint.rstrip("/") != OFFICIAL:
            lines.append(
                f"os.environ['HF_ENDPOINT'] = {endpoint.rstrip('/')!r}  # before the import"
            )
        lines += [
            "from huggingface_hub import hf_hub_download",
            "",
            f"hf_hub_download(repo_id={repo_id!r}, filename={FILE!r}, local_dir={local!r})",
        ]
        return "\n".join(x for x in lines if x is not None) + "\n"
    if source == "modelscope":
        return (
            "from modelscope import snapshot_download\n\n"
            f"snapshot_download({repo_id!r}, allow_file_pattern={FILE!r}, local_dir={local!r})\n"
        )
    return (
        "# pip install openxlab  (it pins old requests/setuptools/rich/tqdm: use a separate venv)\n"
        "from openxlab.model import download\n\n"
        "# the package has no single-file option: this fetches the whole repository\n"
        f"download(model_repo={repo_id!r}, output={local!r})\n"
    )
