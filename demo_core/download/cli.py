"""``python -m demo_core.download MODEL [--file F] [--endpoint URL] [--source hf|modelscope|openxlab]``.

Same code path as the Models page, with a one-line terminal progress bar. Ctrl-C stops
cleanly and keeps partial files, so running the same command again resumes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from demo_core.download.api import ENDPOINT_ENV, SOURCES, Request
from demo_core.download.errors import DownloadError
from demo_core.download.hub import DEFAULT_TIMEOUT, ENDPOINTS
from demo_core.download.jobs import CANCELLED, DONE, DownloadJob, JobView
from demo_core.download.progress import Snapshot, fmt_bytes
from demo_core.i18n import _, language_from_environment, set_language
from demo_core.specs import SPECS

BAR = 28


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m demo_core.download",
        description=_("Download an InternLM model (weights, tokenizer, config; never remote code)."),
        epilog=_(
            "MODEL is one of: {keys} -- or a repository id such as internlm/internlm2-chat-1_8b."
        ).format(keys=", ".join(k for k, s in SPECS.items() if not s.is_random)),
    )
    p.add_argument("model", help=_("model key from the app, or a repository id"))
    p.add_argument("--file", help=_("download only this file (e.g. config.json)"))
    p.add_argument(
        "--endpoint",
        help=_(
            "site base URL, or for Hugging Face one of {names} "
            "(default: $HF_ENDPOINT / $MODELSCOPE_DOMAIN / $OPENXLAB_ENDPOINT, else the official site)"
        ).format(names=", ".join(ENDPOINTS)),
    )
    p.add_argument("--source", choices=SOURCES, default="hf")
    p.add_argument("--token", help=_("access token for gated/private repositories"))
    p.add_argument("--revision", help=_("branch, tag or commit (default: main / master)"))
    p.add_argument("--dest", help=_("destination folder (default: the app's models folder)"))
    p.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT, help=_("seconds per request")
    )
    p.add_argument(
        "--force", action="store_true", help=_("download even if a local copy exists")
    )
    return p.parse_args(argv)


def render(snap: Snapshot, width: int = BAR) -> str:
    frac = snap.fraction
    filled = int(width * frac) if frac is not None else 0
    pct = f"{frac * 100:5.1f}%" if frac is not None else "  ?  "
    return f"[{'#' * filled}{'.' * (width - filled)}] {pct} {snap.line()}"


def main(argv: list[str] | None = None) -> int:
    import os

    set_language(language_from_environment())  # the terminal's LANG / LANGUAGE
    args = parse_args(argv)
    endpoint = args.endpoint
    if endpoint is None:  # the variable each source's own library reads
        endpoint = os.environ.get(ENDPOINT_ENV[args.source])
    req = Request(
        model=args.model,
        file=args.file,
        source=args.source,
        endpoint=endpoint,
        token=args.token or None,
        revision=args.revision,
        dest=args.dest,
        timeout=args.timeout,
        force=args.force,
    )
    try:
        req.validate()
    except DownloadError as exc:
        print(_("error: {problem}").format(problem=exc), file=sys.stderr)
        return 2
    job = DownloadJob(0, req)
    tty = sys.stderr.isatty()
    job.start()
    try:
        watch(job, tty)
    except KeyboardInterrupt:
        return cancel(job, req, tty)
    return report(job.view(), req, tty)


def watch(job: DownloadJob, tty: bool) -> None:
    """Redraw the bar until the job ends (a tty every 0.2 s, a log file every 5 s).

    Nothing is drawn before the files are listed: an empty ``[....] ? 0 B / ?`` bar says
    nothing, and in a log it would sit right above the error of a failed listing.
    """
    last = 0.0
    while not job.wait(0.2):
        now = time.monotonic()
        view = job.view()
        if view.plan is None and not view.progress.done:
            continue
        if tty or now - last > 5:
            line = render(view.progress)
            print(
                ("\r" + line + "\x1b[K") if tty else line,
                end="" if tty else "\n",
                file=sys.stderr,
                flush=True,
            )
            last = now


def cancel(job: DownloadJob, req: Request, tty: bool) -> int:
    """Ctrl-C: stop the job at its next chunk, keep the partial files, exit 130.

    A second Ctrl-C stops waiting for the thread; the partial files are kept either way
    because nothing here deletes them.
    """
    job.cancel()
    if tty:
        print("\r\x1b[K", end="", file=sys.stderr, flush=True)
    try:
        finished = job.wait(30)
    except KeyboardInterrupt:
        finished = False
    view = job.view()
    if finished and view.state != CANCELLED:  # it ended on its own just before Ctrl-C
        return report(view, req, tty)
    if view.progress.done:
        said = _(
            "Cancelled after {size}. The partial files in {folder} are kept; run the same "
            "command to resume."
        ).format(size=fmt_bytes(view.progress.done), folder=req.destination)
    else:
        said = _("Cancelled before any byte was written; run the same command to start again.")
    print(said, file=sys.stderr)
    return 130


def report(view: JobView, req: Request, tty: bool) -> int:
    """Final bar, then the result (stdout: the path / JSON) or the error (stderr)."""
    if view.plan is not None:  # the bar means something only once files were listed
        final = render(view.progress)
        print(("\r" + final + "\x1b[K") if tty else final, file=sys.stderr)
    if view.state == DONE:
        print(view.message, file=sys.stderr)
        if view.result is not None and view.result.existing is not None:
            print(_("Add --force to download it again anyway."), file=sys.stderr)
        if req.file and view.result is not None and view.result.files:
            path = view.result.files[0]
            print(path)
            if path.suffix == ".json":
                try:
                    print(json.dumps(json.loads(path.read_text()), indent=2, ensure_ascii=False))
                except ValueError:
                    pass
        elif view.result is not None:
            print(view.result.dest)
        return 0
    print(_("error: {problem}").format(problem=view.message), file=sys.stderr)
    return 130 if view.state == CANCELLED else 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
