"""Build step only (metadata is in pyproject.toml): compile the gettext catalogs.

A wheel or a regular install gets ``demo_core/locale/*/LC_MESSAGES/messages.mo`` built
from the committed .po files here, so the compiled catalogs ship in the package without
being committed. An editable install (``pip install -e .``) and a plain checkout compile
them on first use instead (``demo_core.i18n.mo_path``), which also keeps them fresh after
a .po changes.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildPyWithCatalogs(build_py):
    def run(self) -> None:
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        for po in Path("demo_core/locale").glob("*/LC_MESSAGES/*.po"):
            with po.open("rb") as f:
                catalog = read_po(f)
            with po.with_suffix(".mo").open("wb") as f:
                write_mo(f, catalog, use_fuzzy=False)
        super().run()


setup(cmdclass={"build_py": BuildPyWithCatalogs})
