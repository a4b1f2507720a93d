"""Package discovery for the design card's layout.

The repository keeps ``strategies/``, ``backtests/`` and ``live/`` at the top level (the design
card's layout), but they install as ``nautilus_ai.strategies``, ``nautilus_ai.backtests`` and
``nautilus_ai.live``. A user's own top-level ``strategies`` package is therefore never shadowed,
and ``ImportableStrategyConfig`` paths such as
``nautilus_ai.strategies.ai_pattern:AIPatternStrategy`` resolve from any working directory after
``pip install``.
"""

from setuptools import find_packages, setup

MAPPED = {
    "strategies": "nautilus_ai.strategies",
    "backtests": "nautilus_ai.backtests",
    "live": "nautilus_ai.live",
}

packages = find_packages(include=["nautilus_ai", "nautilus_ai.*"])
package_dir = {"nautilus_ai": "nautilus_ai"}
for folder, dotted in MAPPED.items():
    package_dir[dotted] = folder
    packages.append(dotted)
    for sub in find_packages(where=folder):
        packages.append(f"{dotted}.{sub}")
        package_dir[f"{dotted}.{sub}"] = f"{folder}/{sub.replace('.', '/')}"

setup(packages=packages, package_dir=package_dir)
