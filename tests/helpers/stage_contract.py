"""What every builder stage promises: its declared fields (checked by `Stage.run`) and that it pickles (stages
travel to Ray workers)."""

import pickle

from cultureclip.builder.stage import ROW_STATE, Stage


def check_declaration(stage: Stage | type[Stage]) -> None:
    """What a stage must declare for `Stage.run` to check its rows and the executor to keep its blobs."""
    assert isinstance(stage.name, str) and stage.name and stage.name != Stage.name, stage
    for fields in (stage.inputs, stage.outputs, stage.blobs):
        assert isinstance(fields, tuple) and all(isinstance(f, str) and f for f in fields), (stage, fields)
        assert len(set(fields)) == len(fields), (stage, fields)
    assert stage.outputs or isinstance(stage, type), stage  # some classes declare them per instance
    assert set(stage.blobs) <= set(stage.outputs), stage
    assert not set(stage.outputs) & set(ROW_STATE), stage


def check_pickles(stage: Stage) -> None:
    """A stage sent to a worker is the same stage there (before `setup` loads its models)."""
    copy = pickle.loads(pickle.dumps(stage))
    assert type(copy) is type(stage)
    assert (copy.name, copy.inputs, copy.outputs, copy.blobs) == (stage.name, stage.inputs, stage.outputs, stage.blobs)
    check_declaration(copy)
