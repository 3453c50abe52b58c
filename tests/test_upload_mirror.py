"""The data agent's uploader kept in step with the session, without Streamlit (AppTest
cannot drive st.file_uploader): each file is taken once, a removed file the model has
not seen is withdrawn, and a refused file keeps its reason while it stays."""

from __future__ import annotations

from dataclasses import dataclass

from demo_core.agent.transcript import UploadInfo
from demo_core.agent.upload_mirror import mirror_uploads
from demo_core.agent.uploads import UploadError


@dataclass
class Up:
    file_id: str
    name: str
    data: bytes = b"a,b\n1,2\n"

    def getvalue(self) -> bytes:
        return self.data


class FakeSession:
    """The two session methods the mirror calls; empty data is refused."""

    def __init__(self) -> None:
        self.added: list[str] = []
        self.withdrawn: list[str] = []

    def add_upload(self, name: str, data: bytes) -> UploadInfo:
        if not data:
            raise UploadError(f"{name} is empty")
        self.added.append(name)
        return UploadInfo(name, f"/s/{name}", len(data), "2 rows")

    def withdraw_pending(self, name: str) -> bool:
        self.withdrawn.append(name)
        return True


def test_files_are_taken_once_withdrawn_when_removed_and_refusals_stay():
    session, seen, errors = FakeSession(), {}, {}
    uploads = [Up("1", "sales.csv"), Up("2", "empty.csv", b"")]
    first = mirror_uploads(session, uploads, seen, errors)
    assert session.added == ["sales.csv"]
    assert [level for level, _ in first.notes] == ["success"]
    assert "sales.csv is ready (2 rows)" in first.notes[0][1]
    assert first.errors == ["empty.csv is empty"]

    again = mirror_uploads(session, uploads, seen, errors)  # the next run: same files
    assert session.added == ["sales.csv"] and again.notes == []
    assert again.errors == ["empty.csv is empty"]

    gone = mirror_uploads(session, [], seen, errors)  # both removed from the uploader
    assert session.withdrawn == ["sales.csv"]  # a refused file had nothing to withdraw
    assert gone.notes == [("info", "sales.csv was removed.")] and gone.errors == []
    assert seen == {} and errors == {}
