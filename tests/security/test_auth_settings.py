"""The auth: block of workbench.yml: typed, described, checked with the file and field named."""

from __future__ import annotations

import pytest

from workbench.config import AuthSettings, ExternalIdPSettings, load_settings
from workbench.semantic.errors import ModelError


@pytest.mark.parametrize("cls", [AuthSettings, ExternalIdPSettings])
def test_every_field_is_described(cls):
    for name, f in cls.model_fields.items():
        assert f.description and len(f.description) > 10, name


def test_auth_block_is_read(tmp_path):
    (tmp_path / "workbench.yml").write_text(
        "auth:\n  access_token_s: 300\n  refresh_grace_s: 5\n"
        "  external_idp:\n    issuer: https://idp.test/\n    jwks_url: https://idp.test/jwks\n"
    )
    s = load_settings(tmp_path)
    assert s.auth.access_token_s == 300 and s.auth.refresh_grace_s == 5
    assert s.auth.external_idp.jwks_url == "https://idp.test/jwks"
    assert s.auth.external_idp.refetch_cooldown_s == 60  # default


@pytest.mark.parametrize(
    "yml,field",
    [
        ("auth:\n  access_token_s: 3600\n", "auth.access_token_s"),
        ("auth:\n  key_bits: 1024\n", "auth.key_bits"),
        ("auth:\n  tokn_lifetime: 5\n", "auth.tokn_lifetime"),
    ],
)
def test_bad_values_name_the_file_and_field(tmp_path, yml, field):
    (tmp_path / "workbench.yml").write_text(yml)
    with pytest.raises(ModelError) as e:
        load_settings(tmp_path)
    assert e.value.field == field and "workbench.yml" in str(e.value)
