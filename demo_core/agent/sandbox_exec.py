"""The command Jupyter starts for a kernel: join the cgroups, then exec bwrap (or, where the
user agreed to run without a sandbox, the launcher itself).

Runs *outside* the sandbox, as the app's user, as ``python -I sandbox_exec.py PLAN.json
CONNECTION.json``. Standard library only. It exists because three things must happen in
the kernel's own process right before bwrap starts and cannot be said in a kernel spec:
the seccomp program is handed over as an open file descriptor (``--seccomp FD``), the
process joins the kernel's cgroups (so bwrap and everything below it are counted), and the
connection file is copied with the socket folder's *inside* path for the kernel to read.
Everything it reads lives in the session's ``runtime`` folder, which the kernel never sees.
"""

from __future__ import annotations

import json
import os
import sys


def main(argv: list[str]) -> None:
    with open(argv[1], encoding="utf-8") as f:
        plan = json.load(f)
    connection = argv[2]
    with open(connection, encoding="utf-8") as f:
        info = json.load(f)
    if plan.get("inside_ip"):
        info["ip"] = plan["inside_ip"]
    fd = os.open(plan["inside_connection"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(info, f)
    for d in plan.get("cgroups", []):
        try:
            with open(os.path.join(d, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))
        except OSError as exc:
            print(f"cgroup {d} not joined: {exc}", file=sys.stderr)
    args = list(plan["argv"])
    if plan.get("seccomp"):
        sfd = os.open(plan["seccomp"], os.O_RDONLY)
        os.set_inheritable(sfd, True)
        args[1:1] = ["--seccomp", str(sfd)]
    os.execv(args[0], args)


if __name__ == "__main__":
    main(sys.argv)
