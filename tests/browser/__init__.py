"""Browser tests (a package so its conftest is imported as browser.conftest, not as the top-level ``conftest``)."""
