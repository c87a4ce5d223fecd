"""The embedded server's own settings (environment variables) are read strictly.

Why: a value that could not be read used to fall back to the default without a word, so
``TENANT_RAG_LOCAL_MAX_RESIDENT_MB=2GB`` ran with no memory cap at all and
``TENANT_RAG_LOCAL_ANN_MIN_ROWS=20k`` with the default threshold. The server now refuses to
start, naming the variable, what it holds and what it takes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tenant_rag.local import start
from tenant_rag.local.engine.settings import (
    ANN_MIN_ROWS_ENV,
    RESIDENT_BUDGET_ENV,
    ann_min_rows,
    resident_budget,
)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        (RESIDENT_BUDGET_ENV, "2GB"),
        (RESIDENT_BUDGET_ENV, "-5"),
        (RESIDENT_BUDGET_ENV, "nan"),
        (ANN_MIN_ROWS_ENV, "20k"),
        (ANN_MIN_ROWS_ENV, "1.5"),
        (ANN_MIN_ROWS_ENV, "-1"),
    ],
)
def test_an_unreadable_setting_stops_the_server_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError) as refused:
        start(tmp_path / "data")
    message = str(refused.value)
    assert name in message and repr(value) in message
    assert not (tmp_path / "data").exists() or not any((tmp_path / "data").iterdir())


def test_readable_settings_take_effect(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(RESIDENT_BUDGET_ENV, " 1.5 ")
    monkeypatch.setenv(ANN_MIN_ROWS_ENV, "5000")
    assert (resident_budget(), ann_min_rows()) == (int(1.5 * 2**20), 5000)
    monkeypatch.setenv(RESIDENT_BUDGET_ENV, "")
    monkeypatch.setenv(ANN_MIN_ROWS_ENV, "0")
    assert (resident_budget(), ann_min_rows()) == (0, 0)  # no cap; every search exact
    monkeypatch.delenv(ANN_MIN_ROWS_ENV)
    assert ann_min_rows() == 20_000
