"""Every builder stage declares the fields it reads and writes (its rows are checked against them).

Class level: every concrete `Stage` in `builder.stages` names itself and declares tuples of field names (or sets
them per instance), its blobs among its outputs and no row-state field as an output.
"""

import importlib
import pkgutil

import pytest

import cultureclip.builder.stages as stages_package
from cultureclip.builder.stage import Stage
from helpers.stage_contract import check_declaration, check_pickles


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


@pytest.mark.parametrize("stage", STAGES, ids=[c.__name__ for c in STAGES])
def test_every_stage_class_declares_its_fields(stage):
    check_declaration(stage)


def test_every_stage_pickles_and_every_stage_class_is_here():
    from cultureclip.builder.stages.caption_rubric import RubricStage
    from cultureclip.builder.stages.caption_scores import AgreementStage, CoverageStage
    from cultureclip.builder.stages.captions import CaptionStage
    from cultureclip.builder.stages.clip_filter import ClipFilterStage
    from cultureclip.builder.stages.images import ImageStage
    from cultureclip.builder.stages.paper_text import ConceptStage, PaperCaptionStage
    from cultureclip.builder.stages.photos import PhotoFilterStage, PhotoLabelStage, PhotoStage
    from cultureclip.builder.stages.recaption import RecaptionStage
    from cultureclip.builder.stages.twin_prompt import TwinPromptStage
    from cultureclip.builder.stages.vlm_judge import VlmJudgeStage
    from cultureclip.config import (
        BottomUpRecipeConfig,
        CaptionConfig,
        ChatModelConfig,
        ClipFilterConfig,
        ImageGeneratorConfig,
        JudgeConfig,
        PaperRecipeConfig,
        RecaptionConfig,
        ScoreConfig,
    )

    paper = PaperRecipeConfig()
    stages = [
        CaptionStage(CaptionConfig(), "template", "config:test-clip"),
        ImageStage("procedural", 48, ImageGeneratorConfig()),
        ClipFilterStage(ClipFilterConfig()),
        ConceptStage(paper, paper.generator),
        TwinPromptStage(paper, paper.generator),
        PaperCaptionStage(paper, "config:test-clip"),
        VlmJudgeStage(JudgeConfig()),
        PhotoStage(224),
        PhotoFilterStage(BottomUpRecipeConfig(), ["Cuisine"]),
        PhotoLabelStage(BottomUpRecipeConfig(), ["Cuisine"]),
        AgreementStage("config:test-clip"),
        CoverageStage(0.5),
        RubricStage(ScoreConfig(rubric=ChatModelConfig())),
        RecaptionStage(RecaptionConfig(), "caption-quality-v1", "config:test-clip"),
    ]
    assert sorted({type(s) for s in stages}, key=lambda c: c.__qualname__) == STAGES  # a new stage needs a row
    for stage in stages:
        check_pickles(stage)
    assert [s.name for s in stages if s.blobs] == ["images", "photos"] and ImageStage.blobs == ImageStage.outputs
    assert VlmJudgeStage.outputs == (
        *("authenticity", "authenticity_reason", "consistency", "consistency_reason"),
        *("cultural_fidelity", "cultural_fidelity_reason"),
    )
