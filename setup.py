"""Packages to install (everything else is in pyproject.toml).

The program in models/ is installed as `tinygrad_bn_models`, not as a top-level `models` that would collide with
any other project's; in the repository it stays `models/`, so `python -m models.catsdogs` works from here.
(pyproject.toml can map a folder to another name only with a fixed list of packages; find_packages here keeps new
subpackages of tinygrad_bn included without editing a list.)
"""
from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["tinygrad_bn", "tinygrad_bn.*"]) + [
        "tinygrad_bn_models" + name[len("models"):] for name in find_packages(include=["models", "models.*"])],
    package_dir={"tinygrad_bn_models": "models"},
)
