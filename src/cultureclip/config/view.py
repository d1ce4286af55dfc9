"""The static HTML view of a dataset (`cultureclip view DATA`): thumbnail size and page sizes."""

from pydantic import Field

from cultureclip.config.base import Strict


class ViewConfig(Strict):
    """How `cultureclip view` pages a dataset, so a 100k-image dataset opens fast: the index lists a page of
    twin groups at a time, a group page a slice of each concept's images."""

    in_run: bool = True
    """`cultureclip run` and `eval` write the view of the run's dataset into OUT/view, linked from the report."""
    thumb_size: int = Field(default=128, ge=16, le=1024)
    """Longest side of the thumbnails, in pixels (smaller images are kept at their size)."""
    thumb_quality: int = Field(default=80, ge=1, le=95)
    """JPEG quality of the thumbnails."""
    groups_per_page: int = Field(default=20, ge=1)
    """Twin groups per page of the index."""
    images_per_concept: int = Field(default=24, ge=1)
    """Images of each concept per page of a twin group's pages."""
