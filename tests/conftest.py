"""Suite-wide pytest set-up; pytest_plugins must live in the root conftest."""

pytest_plugins = ["pytest_jupyter.jupyter_server"]
