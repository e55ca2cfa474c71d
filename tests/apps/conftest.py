import pytest
from catalog_fakes import FakeWorkbench


@pytest.fixture
def fake_wb():
    return FakeWorkbench()
