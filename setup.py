"""For scrapyd-deploy only: it builds the project egg with `python setup.py bdist_egg` and would
write a setup.py of its own (naming the project 'project') when none exists.  Everything else
(`pip install`, `make`) reads pyproject.toml, as this does."""
from setuptools import setup

setup()
