"""``engine backup PATH`` always writes a gzip-compressed tar archive and says so; a name that
claims another format gets a warning with the name to use."""

import tarfile

import pytest

from actors.store.writer import Store
from engine.config import DEFAULT_TOML
from ops.cli import archive_name_warning, main


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "engine.toml"
    path.write_text(DEFAULT_TOML)
    data = tmp_path / "engine_data"
    data.mkdir()
    Store.open(data / "engine.db").close()
    return path


@pytest.mark.parametrize("name, better", [("x.tar", "x.tar.gz"), ("x.zip", "x.zip.tar.gz"),
                                          ("backup", "backup.tar.gz")])
def test_a_name_that_is_not_tar_gz_is_warned_about(config, tmp_path, capsys, name, better):
    dest = tmp_path / name
    assert main(["backup", str(dest), "--config", str(config)]) == 0
    captured = capsys.readouterr()
    assert "gzip-compressed tar archive" in captured.out
    assert f"warning: {name} does not end in .tar.gz" in captured.err
    assert f"rename it {better}" in captured.err
    with tarfile.open(dest, "r:gz") as tar:  # whatever the name, the content is .tar.gz
        assert {"engine.toml", "engine.db"} <= set(tar.getnames())


def test_tar_gz_and_tgz_names_are_quiet(config, tmp_path, capsys):
    for name in ("b.tar.gz", "b.TGZ"):
        assert main(["backup", str(tmp_path / name), "--config", str(config)]) == 0
        assert "warning" not in capsys.readouterr().err
    assert archive_name_warning(tmp_path / "b.tar.gz") is None
