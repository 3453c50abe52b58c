"""demo_ui.streamlit_fixes: a file's upload URLs survive the start of a script run.

Without the fix the server dropped the answer to the browser's request for upload URLs
when a run started before it was sent; the browser waited for ever and the picked file
never showed in the uploader (the How it works browser test lost its reference image in
about half of its runs that way)."""

from __future__ import annotations

from types import SimpleNamespace

from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.runtime.app_session import AppSession
from streamlit.runtime.forward_msg_queue import ForwardMsgQueue

import demo_ui  # noqa: F401  (installs the fix, as every page's import does)
from demo_ui import streamlit_fixes


def _queue_as_a_run_ends_and_urls_are_answered() -> ForwardMsgQueue:
    """What the queue holds when a file is picked as a run ends: the run's last element,
    its end, and the answer with the file's upload URLs, not sent yet."""
    queue = ForwardMsgQueue()
    delta = ForwardMsg()
    delta.metadata.delta_path[:] = [0, 3]
    delta.delta.new_element.markdown.body = "an element of the run that ended"
    queue.enqueue(delta)
    finished = ForwardMsg()
    finished.script_finished = ForwardMsg.FINISHED_SUCCESSFULLY
    queue.enqueue(finished)
    answer = ForwardMsg()
    answer.file_urls_response.response_id = "request-7"
    urls = answer.file_urls_response.file_urls.add()
    urls.file_id, urls.upload_url = "file-1", "/_stcore/upload_file/session/file-1"
    queue.enqueue(answer)
    return queue


def _types(queue: ForwardMsgQueue) -> list[str]:
    return [msg.WhichOneof("type") for msg in queue.flush()]


def test_a_new_run_keeps_the_upload_urls_answer():
    queue = _queue_as_a_run_ends_and_urls_are_answered()
    AppSession._clear_queue(SimpleNamespace(_browser_queue=queue))  # a run starts
    msgs = queue.flush()
    assert [m.WhichOneof("type") for m in msgs] == ["script_finished", "file_urls_response"]
    answer = msgs[-1].file_urls_response
    assert answer.response_id == "request-7"
    assert answer.file_urls[0].upload_url == "/_stcore/upload_file/session/file-1"


def test_a_fragment_run_and_a_flush_behave_as_before():
    queue = _queue_as_a_run_ends_and_urls_are_answered()
    AppSession._clear_queue(SimpleNamespace(_browser_queue=queue), ["some-fragment"])
    assert _types(queue) == ["delta", "script_finished", "file_urls_response"]
    queue = _queue_as_a_run_ends_and_urls_are_answered()
    queue.clear()  # what a flush does after taking the messages: nothing kept
    assert _types(queue) == []


def test_install_is_in_place_once():
    assert streamlit_fixes.install() is True
    clear = ForwardMsgQueue.clear
    assert clear._demo_studio_fix
    assert not getattr(clear._demo_studio_original, "_demo_studio_fix", False)


def test_streamlit_itself_still_drops_the_answer():
    """The control: Streamlit's own clear loses the answer. When this fails, Streamlit
    keeps it itself and demo_ui.streamlit_fixes can go."""
    queue = _queue_as_a_run_ends_and_urls_are_answered()
    ForwardMsgQueue.clear._demo_studio_original(queue, retain_lifecycle_msgs=True)
    assert _types(queue) == ["script_finished"]
