import os

import pytest


def pytest_report_header(config):
    import funnelkit

    return f"funnelkit {funnelkit.__version__} from {os.path.dirname(funnelkit.__file__)}"


@pytest.fixture(scope="session")
def sample_df():
    import funnelkit

    return funnelkit.sample_crm(5_000, seed=42)
