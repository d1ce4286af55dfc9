"""Import the authors' CulTwin release into our dataset format (WebDataset shards + Parquet manifest).

Layout read, as the authors' training loader reads it (github lukahhcm/CultureCLIP, the
`CultureClipDataset` class of its data-loading module, whose `get_dataloaders` defaults name the
columns): a `.json` file holding a list of rows, or a `.jsonl` file with one row a line. (The hub
dataset lukahh/cultureCLIP holds `sd_0218_local_train.json` and `sd_0218_local_valid.json`, which we
could not open here; the layout below is the loader's.) Every row is
one twin pair: a concept image with its caption and the twin's image with its caption. The loader
requires six fields, all of which we use:

  pos_image_path, pos_caption, pos_concept     the concept's image file, caption and name
  neg_image_path, neg_caption, neg_concept     the twin's (the hard negative) image, caption and name

and the release's caption-pairing script (`adapt_for_stable_diffusion`, which writes the rows the
images were rendered from) adds these, which we keep where present:

  sample_id                      the twin pair (one per concept/twin, shared by its 10 x 10 caption pairs)
  pos_context, neg_context       the ~20-word cultural context of each member
  metadata.category              one of the 8 categories (Cuisine, Clothing, ...)
  metadata.pos_features / neg_features   key visual features (the twin's are empty in the release)

Mapping: each distinct image becomes one sample (an image shared by several caption pairs is stored
once, with the caption of its first row). concept_id is the concept name as a slug, twin_group is
`sample_id` (or, without it, the two slugs joined), twin_ids names the other member, `generic` is the
category and `generic_caption` "a photo of {category}." (the release has no generic noun), culture is
empty (the rows carry no country). Image paths are resolved against the data file's folder, or under
a given images folder (see `import_cultwin`).
"""

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from PIL import Image, UnidentifiedImageError
from rich.progress import Progress

from cultureclip.data.shards import Sample, write_manifest, write_split
from cultureclip.data.text import slug
from cultureclip.errors import DataError
from cultureclip.io import atomic_path, claim_output, mark_done

log = logging.getLogger(__name__)
REQUIRED = ("pos_image_path", "pos_caption", "pos_concept", "neg_image_path", "neg_caption", "neg_concept")
SIDES = ("pos", "neg")


@dataclass(frozen=True)
class Member:
    """One side of a twin-pair row, resolved: what becomes one sample of our format."""

    image: Path
    row: dict
    where: str
    """The release file, row and image field it comes from, for error messages."""


def read_rows(path: Path) -> list[dict]:
    """The rows of a release file (a JSON list, or JSON lines), each checked for the six loader fields."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such CulTwin file")
    text = path.read_text(encoding="utf-8")
    try:
        rows = json.loads(text)
    except json.JSONDecodeError as err:
        rows = _json_lines(path, text, err)
    if not isinstance(rows, list):
        raise DataError(f"{path}: expected a list of twin-pair rows")
    for i, row in enumerate(rows):
        _check_row(path, i, row)
    return rows


def _json_lines(path: Path, text: str, first: json.JSONDecodeError) -> list:
    if first.msg != "Extra data":  # not several JSON values one after another
        raise DataError(f"{path}: not valid JSON (line {first.lineno})") from None
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        try:
            rows += [json.loads(line)] if line.strip() else []
        except json.JSONDecodeError:
            raise DataError(f"{path}: not valid JSON (line {n})") from None
    return rows


def _check_row(path: Path, i: int, row: object) -> None:
    if not isinstance(row, dict):
        raise DataError(f"{path}: row {i}: expected an object with the twin-pair fields")
    for field in REQUIRED:
        value = row.get(field)
        if not isinstance(value, str) or not value.strip():
            problem = "missing" if field not in row else "not a non-empty string"
            raise DataError(f"{path}: row {i}: field {field!r} is {problem}")


def members(path: Path, rows: list[dict], split: str, images: Path | None = None) -> list[Member]:
    """Both members of every row as our rows, one per distinct image, in file order."""
    seen: set[Path] = set()
    counts: dict[str, int] = {}
    out = []
    for i, row in enumerate(rows):
        meta = row.get("metadata") if isinstance(row.get("metadata"), dict) else {}
        ids = {side: slug(row[f"{side}_concept"]) for side in SIDES}
        group = str(row.get("sample_id") or f"{ids['pos']}--{ids['neg']}")
        category = str(meta.get("category") or "")
        for side, other in (("pos", "neg"), ("neg", "pos")):
            image = _resolve(path, row[f"{side}_image_path"], images)
            if image in seen:
                continue
            seen.add(image)
            stem = f"{slug(group)}-{side}"
            counts[stem] = counts.get(stem, -1) + 1
            out.append(
                Member(
                    image,
                    {
                        "key": f"{stem}-{counts[stem]:04d}",
                        "split": split,
                        "concept_id": ids[side],
                        "name": row[f"{side}_concept"].strip(),
                        "culture": "",
                        "category": category,
                        "generic": category.lower(),
                        "twin_group": group,
                        "twin_ids": [ids[other]],
                        "caption": row[f"{side}_caption"].strip(),
                        "generic_caption": f"a photo of {category.lower() or 'a thing'}.",
                        "context": str(row.get(f"{side}_context") or ""),
                        "features": str(meta.get(f"{side}_features") or ""),
                        "source": f"{path.name}:{i}",
                    },
                    f"{path}: row {i}: field '{side}_image_path'",
                )
            )
    return out


def _resolve(path: Path, image: str, images: Path | None) -> Path:
    """Where an image is: beside the data file, or under `images` by its path's longest existing tail
    (the release's paths may be absolute paths of the authors' machine)."""
    file = Path(image)
    if images is None:
        return file if file.is_absolute() else path.parent / file
    tails = [file.parts[k:] for k in range(1 if file.is_absolute() else 0, len(file.parts))]
    candidates = [Path(images).joinpath(*tail) for tail in tails]
    return next((c for c in candidates if c.is_file()), candidates[0])


def _load(member: Member, max_side: int | None) -> Image.Image:
    try:
        with Image.open(member.image) as im:
            image = im.convert("RGB")
    except FileNotFoundError:
        raise DataError(f"{member.where}: no such image {member.image}") from None
    except (UnidentifiedImageError, OSError):
        raise DataError(f"{member.where}: {member.image} is not a readable image") from None
    if max_side and max(image.size) > max_side:
        image.thumbnail((max_side, max_side), Image.Resampling.BICUBIC)
    return image


def _samples(group: list[Member], max_side: int | None, advance: Callable[[], None]) -> Iterator[Sample]:
    """Each member as a sample, its image loaded only when `write_split` asks for it."""
    for member in group:
        yield Sample(member.row, _load(member, max_side))
        advance()


def import_cultwin(
    splits: dict[str, Path],
    out: Path,
    images: Path | None = None,
    max_side: int | None = None,
    shard_size: int = 1000,
    overwrite: bool = False,
) -> Path:
    """Convert release files (split name -> file) into a dataset folder `out`, atomically.

    `images` is the folder holding the release's images when its paths do not resolve beside the
    data file; `max_side` shrinks larger images to that longest side (the release renders 1024 px).
    Images are read one at a time as their shard is written, so memory stays bounded on the full release.
    """
    out = Path(out)
    claim_output(out, "import cultwin", overwrite)
    planned = {split: members(Path(file), read_rows(file), split, images) for split, file in splits.items()}
    with atomic_path(out) as tmp, Progress() as progress:
        tmp.mkdir(parents=True)
        manifest = []
        for split, group in planned.items():
            task = progress.add_task(f"importing {split}", total=len(group))
            manifest += write_split(tmp, split, _samples(group, max_side, partial(progress.advance, task)), shard_size)
        write_manifest(tmp, manifest)
        mark_done(tmp, "import cultwin")
    log.info("imported %d images into %s", sum(len(g) for g in planned.values()), out)
    return out
