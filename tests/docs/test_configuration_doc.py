"""docs/configuration.md is generated from the configuration catalogue: it must be exactly what
``python -m ops.docs_config`` writes now, and list every key of the model."""

from engine.config.catalog import catalogue
from ops import docs_config


def test_configuration_reference_is_up_to_date():
    current = docs_config.TARGET.read_text(encoding="utf-8")
    assert current == docs_config.render(), \
        "docs/configuration.md differs from the config model: run python -m ops.docs_config"


def test_every_key_is_in_the_reference():
    text = docs_config.render()
    missing = [e["path"] for e in catalogue()
               if e["override_of"] is None and f"`{e['path']}`" not in text]
    assert not missing


def test_check_mode_reports_a_stale_file(tmp_path, monkeypatch):
    stale = tmp_path / "configuration.md"
    stale.write_text("# old\n")
    monkeypatch.setattr(docs_config, "TARGET", stale)
    assert docs_config.main(["--check"]) == 1
    assert docs_config.main([]) == 0
    assert docs_config.main(["--check"]) == 0
    assert stale.read_text() == docs_config.render()
