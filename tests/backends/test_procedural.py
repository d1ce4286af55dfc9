import numpy as np
import pytest

from cultureclip.backends.image.base import RenderRequest, create_image_generator
from cultureclip.catalog import load_catalog


def _pixels(image):
    return np.asarray(image, dtype=np.float32)


@pytest.fixture(scope="module")
def renderer():
    return create_image_generator("procedural", image_size=48)


def test_same_seed_same_pixels_and_seed_changes_the_nuisance(renderer):
    attrs = {"shape": "vase", "body": "white", "accent": "blue", "pattern": "waves", "detail": "rim"}
    a, b, c = renderer.render(
        [RenderRequest("x", 7, attrs), RenderRequest("y", 7, attrs), RenderRequest("x", 8, attrs)]
    )
    assert a.size == (48, 48) and a.mode == "RGB"
    assert np.array_equal(_pixels(a), _pixels(b))
    assert not np.array_equal(_pixels(a), _pixels(c))


def test_twins_look_alike_and_differ_only_where_their_attributes_do(renderer):
    """Rendered with the same seed (same pose and background), twins differ far less than unrelated concepts."""
    catalog = load_catalog()
    twin_gaps, other_gaps = [], []
    groups = list(catalog.groups.values())
    for k, ids in enumerate(groups):
        a, b = (catalog.by_id[i].attributes.model_dump() for i in ids[:2])
        other = catalog.by_id[groups[(k + 7) % len(groups)][0]].attributes.model_dump()
        for seed in (1, 2):
            ia, ib, io = (_pixels(renderer.render_one(x, seed)) for x in (a, b, other))
            assert not np.array_equal(ia, ib), f"twins {ids[:2]} render identically"
            twin_gaps.append(np.abs(ia - ib).mean())
            other_gaps.append(np.abs(ia - io).mean())
    assert np.median(twin_gaps) < 0.6 * np.median(other_gaps)


def test_every_vocabulary_value_renders(renderer):
    from cultureclip.backends.image.procedural import COLORS, DETAILS, PATTERNS, SHAPES

    for k, shape in enumerate(SHAPES):
        attrs = {
            "shape": shape,
            "body": list(COLORS)[k % 16],
            "accent": list(COLORS)[(k + 5) % 16],
            "pattern": PATTERNS[k % len(PATTERNS)],
            "detail": DETAILS[k % len(DETAILS)],
        }
        image = renderer.render_one(attrs, k)
        assert _pixels(image).std() > 5
