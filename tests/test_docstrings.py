"""Every public module, class, function and method has a numpydoc docstring.

Public means: a module whose path has no part starting with an underscore,
and the names in its ``__all__`` (with their public methods and properties).
numpydoc's validator checks that the docstring exists (GL08), documents every
parameter (PR01) and no unknown one (PR02), and has a Returns section where
the function returns something (RT01).
"""

import importlib
import inspect
import pkgutil

import pytest

import spotlight

numpydoc_validate = pytest.importorskip("numpydoc.validate")

CHECKED = {"GL08", "PR01", "PR02", "RT01"}


def public_modules():
    yield "spotlight"
    for module in pkgutil.walk_packages(spotlight.__path__, "spotlight."):
        if not any(part.startswith("_") for part in module.name.split(".")[1:]):
            yield module.name


def public_names():
    for module_name in public_modules():
        module = importlib.import_module(module_name)
        yield module_name
        for name in getattr(module, "__all__", []):
            value = getattr(module, name)
            if not (inspect.isclass(value) or inspect.isfunction(value)):
                continue
            yield f"{module_name}.{name}"
            if inspect.isclass(value):
                for attribute, member in vars(value).items():
                    public = not attribute.startswith("_")
                    if public and (
                        inspect.isfunction(member) or isinstance(member, property)
                    ):
                        yield f"{module_name}.{name}.{attribute}"


NAMES = sorted(set(public_names()))


def test_the_package_has_public_names():
    assert len(NAMES) > 50


def resolve(name):
    """Import the longest module prefix of ``name`` and walk the attributes."""
    parts = name.split(".")
    for split in range(len(parts), 0, -1):
        try:
            owner = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for part in parts[split:]:
            owner = getattr(owner, part)
        return owner
    raise ImportError(name)


@pytest.mark.parametrize("name", NAMES)
def test_public_name_has_a_numpydoc_docstring(name):
    owner = resolve(name)
    # An override without a docstring inherits its parent's, as Sphinx shows it.
    if not (owner.__doc__ if not callable(owner) else inspect.getdoc(owner)):
        pytest.fail(f"{name} has no docstring")
    if inspect.ismodule(owner) or getattr(owner, "__doc__", None) is None:
        return  # modules need only a docstring; numpydoc checks callables
    errors = [
        f"{code}: {message}"
        for code, message in numpydoc_validate.validate(name)["errors"]
        if code in CHECKED
    ]
    assert not errors, f"{name}: {errors}"
