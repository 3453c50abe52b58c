"""Upload checks of the data agent: names the OS accepts, encodings Excel writes, counts."""

from __future__ import annotations

import pytest

from demo_core.agent.uploads import UploadError, check_upload, safe_name, unique_path


def test_long_cjk_names_fit_the_file_system(tmp_path):
    name = "𠀀" * 70 + ".csv"  # 280 bytes of UTF-8: one character = 4 bytes
    clean = safe_name(name)
    assert clean.endswith(".csv") and len(clean.encode()) <= 210
    path = unique_path(tmp_path, clean)
    path.write_text("a,b\n1,2\n")  # the OS accepts it, also with a "_2" suffix
    unique_path(tmp_path, clean).write_text("a,b\n1,2\n")
    assert len(list(tmp_path.iterdir())) == 2


def test_names_keep_chinese_and_lose_paths():
    assert safe_name("../../销售 数据.CSV") == "销售 数据.csv"
    assert safe_name("C:\\Users\\me\\.hidden.csv") == "hidden.csv"


def test_utf16_text_from_excel_is_converted():
    data = "城市\t销售\n北京\t120\n".encode("utf-16")
    checked = check_upload("sales.tsv", data)
    assert "UTF-16" in checked.note
    assert checked.data.decode("utf-8") == "城市\t销售\n北京\t120\n"
    assert checked.summary == "1 row x 2 columns"


def test_rows_with_quoted_newlines_are_counted_once():
    text = 'name,comment\nA,"line one\nline two"\nB,plain\n'
    assert check_upload("c.csv", text.encode()).summary == "2 rows x 2 columns"


def test_binary_files_are_still_refused():
    with pytest.raises(UploadError, match="binary"):
        check_upload("x.csv", b"\x00\x01\x02abc")
