"""experiments/cross_corpus/cross_corpus.py: its rows are eval.py's numbers."""

from __future__ import annotations

import json

import pytest

import eval as eval_script


def test_cross_corpus_table_rows_match_eval(ravdess, corpus_dir, distilled_student, tmp_path, capsys):
    import cross_corpus

    rows = cross_corpus.main(
        [
            "--models",
            str(distilled_student[0]),
            "--corpora",
            f"cremad={corpus_dir}",
            f"ravdess={ravdess}",
            "--dataset_cache_dir",
            str(tmp_path),
            "--output",
            str(tmp_path / "cross.json"),
        ]
    )
    # the fixture student learnt the synthetic corpus, and its training record says so
    assert [(r["trained_on"], r["tested_on"]) for r in rows] == [("synthetic", "cremad"), ("synthetic", "ravdess")]
    assert rows[1]["clips"] == 12 and rows[1]["left_out"] == 4 and rows[0]["left_out"] == 0
    assert (
        eval_script.main([str(distilled_student[0]), str(ravdess), "--json", "--dataset_cache_dir", str(tmp_path)])
        == 0
    )
    alone = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert rows[1]["accuracy"] == alone["metrics"]["accuracy"] and rows[1]["uar"] == alone["metrics"]["uar"]
    assert json.loads((tmp_path / "cross.json").read_text()) == rows
    with pytest.raises(SystemExit, match="NAME=FOLDER"):
        cross_corpus.main(["--models", "m", "--corpora", "emodb=x"])
