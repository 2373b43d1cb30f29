"""Load an area's helper module from tests/assets/<area>/ by path.

Several areas keep a `helpers.py` beside their golden data (tests/assets/pitch/helpers.py,
tests/assets/style/helpers.py, ...). The folders are not packages and the file names clash, so each is
loaded from its path under the module name `<area>_<name>`.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ASSETS = Path(__file__).parent / "assets"


def load_helpers(area: str, name: str = "helpers") -> ModuleType:
    """Execute tests/assets/<area>/<name>.py and return it as a module."""
    path = ASSETS / area / f"{name}.py"
    if not path.is_file():
        raise FileNotFoundError(f"no helper module {path}; areas with one: "
                                + ", ".join(sorted(p.parent.name for p in ASSETS.glob(f"*/{name}.py"))))
    spec = importlib.util.spec_from_file_location(f"{area}_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
