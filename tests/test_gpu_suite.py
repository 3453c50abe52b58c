"""benchmarks/gpu_suite.py end to end at the smallest shapes: every step of the GPU run
(checkpoints in the official layouts, our loaders, every figure) works before a GPU is lent."""

from __future__ import annotations

from benchmarks.gpu_suite import main


def test_gpu_suite_runs_every_step_at_tiny_shapes(tmp_path, capsys):
    table = main(
        [
            "--tiny",
            "--sessions",
            "1",
            "2",
            "--tokens",
            "4",
            "--runs",
            "1",
            "--prompt-tokens",
            "64",
            "--json",
            str(tmp_path / "suite.json"),
            "--work",
            str(tmp_path),
        ]
    )
    what = {(m, w) for m, w, _, _ in table.rows}
    for key in ("internlm2-chat-1_8b", "internlm2-chat-7b"):
        for mode in ("eager", "static", "compiled"):
            assert (key, f"decode tok/s batch 1, {mode}") in what
        assert (key, "time to first token, 64-token prompt") in what
        assert (key, "2 sessions: aggregate tok/s batched / queued") in what
        assert (key, "load time") in what
    assert ("internlm-xcomposer2-vl-7b", "image encode (224 px, tower + projector)") in what
    assert not any("errors" in note for *_, note in table.rows)
    printed = capsys.readouterr().out
    assert "| model | what | figure | note |" in printed and "memory bandwidth" in printed
    assert (tmp_path / "suite.json").is_file()
