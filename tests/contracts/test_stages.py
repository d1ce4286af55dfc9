"""Every builder stage declares the fields it reads and writes (its rows are checked against them).

Class level: every concrete `Stage` in `builder.stages` names itself and declares tuples of field names (or sets
them per instance), its blobs among its outputs and no row-state field as an output.
"""

import importlib
import pkgutil

import pytest

import cultureclip.builder.stages as stages_package
from cultureclip.builder.stage import ROW_STATE, Stage


def concrete_stages() -> list[type[Stage]]:
    """Every class below `Stage` in the `builder.stages` modules that implements `process`."""
    for module in pkgutil.iter_modules(stages_package.__path__):
        importlib.import_module(f"{stages_package.__name__}.{module.name}")
    found, todo = [], list(Stage.__subclasses__())
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        if cls.__module__.startswith(stages_package.__name__) and cls.process is not Stage.process:
            found.append(cls)
    return sorted(set(found), key=lambda c: c.__qualname__)


STAGES = concrete_stages()


def test_the_stages_package_has_stages():
    assert len(STAGES) >= 10, [c.__name__ for c in STAGES]


def check_declaration(stage: Stage | type[Stage]) -> None:
    """What a stage must declare for `Stage.run` to check its rows and the executor to keep its blobs."""
    assert isinstance(stage.name, str) and stage.name and stage.name != Stage.name, stage
    for fields in (stage.inputs, stage.outputs, stage.blobs):
        assert isinstance(fields, tuple) and all(isinstance(f, str) and f for f in fields), (stage, fields)
        assert len(set(fields)) == len(fields), (stage, fields)
    assert stage.outputs or isinstance(stage, type), stage  # some classes declare them per instance
    assert set(stage.blobs) <= set(stage.outputs), stage
    assert not set(stage.outputs) & set(ROW_STATE), stage


@pytest.mark.parametrize("stage", STAGES, ids=[c.__name__ for c in STAGES])
def test_every_stage_class_declares_its_fields(stage):
    check_declaration(stage)
