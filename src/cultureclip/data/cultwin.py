"""The authors' CulTwin release, read (the source of the `cultwin` recipe, `builder/recipes/cultwin.py`).

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
the member's country where the row gives one (`pos_country`/`neg_country`, in the row or its metadata),
else empty; `source` is where the image comes from (`release`, or `rendered`) and `release_row` the
file and row it was read from. Image paths are resolved against the data file's folder, or under
a given images folder (see `import_cultwin`).

The release publishes no images. With a renderer (`render`, e.g. `--render tiny:sd` or
`diffusers:stabilityai/stable-diffusion-3.5-large-turbo`) every image a row names that is not there,
and every image of a row without image paths (the caption-pairing output), is rendered from its
caption with a seed derived from the row (the same row always gives the same image), on the builder's
executors (local or Ray) in resumable chunks under `OUT.work/`. Rows then need only the captions and
concepts; an image without a path is one per (twin pair, side, caption id).
"""

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from cultureclip.data.images import ImageTooLarge, decoded
from cultureclip.data.row import dataset_row
from cultureclip.data.text import slug
from cultureclip.errors import DataError
from cultureclip.io import read_utf8, within

REQUIRED = ("pos_image_path", "pos_caption", "pos_concept", "neg_image_path", "neg_caption", "neg_concept")
IMAGE_FIELDS = ("pos_image_path", "neg_image_path")
"""Optional when the images are rendered."""
SIDES = ("pos", "neg")


@dataclass(frozen=True)
class Member:
    """One side of a twin-pair row, resolved: what becomes one sample of our format."""

    image: Path | None
    """The image file (None: a row without image paths, so the image is rendered)."""
    row: dict
    where: str
    """The release file, row and image field it comes from, for error messages."""
    seed: int = 0
    """The seed a rendered image of this member is drawn with (from the row's pair, side and caption)."""


def read_rows(path: Path, need_images: bool = True) -> list[dict]:
    """The rows of a release file (a JSON list, or JSON lines), each checked for the six loader fields
    (the two image paths only when `need_images`: rendered images need none)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such CulTwin file")
    text = read_utf8(path)
    try:
        rows = json.loads(text)
    except json.JSONDecodeError as err:
        rows = _json_lines(path, text, err)
    except RecursionError:
        raise DataError(f"{path}: not valid JSON (nested too deep)") from None
    if isinstance(rows, dict) and path.suffix == ".jsonl":  # JSON lines of one row
        rows = [rows]
    if not isinstance(rows, list):
        raise DataError(f"{path}: expected a list of twin-pair rows")
    for i, row in enumerate(rows):
        _check_row(path, i, row, [f for f in REQUIRED if need_images or f not in IMAGE_FIELDS])
    return rows


def _json_lines(path: Path, text: str, first: json.JSONDecodeError) -> list:
    if first.msg != "Extra data":  # not several JSON values one after another
        raise DataError(f"{path}: not valid JSON (line {first.lineno})") from None
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        try:
            rows += [json.loads(line)] if line.strip() else []
        except (json.JSONDecodeError, RecursionError):
            raise DataError(f"{path}: not valid JSON (line {n})") from None
    return rows


def _check_row(path: Path, i: int, row: object, required: list[str]) -> None:
    if not isinstance(row, dict):
        raise DataError(f"{path}: row {i}: expected an object with the twin-pair fields")
    for field in required:
        value = row.get(field)
        if not isinstance(value, str) or not value.strip():
            problem = "missing" if field not in row else "not a non-empty string"
            hint = " (the published release has no images: --render ID renders them)" if field in IMAGE_FIELDS else ""
            raise DataError(f"{path}: row {i}: field {field!r} is {problem}{hint}")


def members(
    path: Path, rows: list[dict], split: str, images: Path | None = None, counts: dict[str, int] | None = None
) -> list[Member]:
    """Both members of every row as our rows, one per distinct image, in file order. Keys are numbered
    in `counts` (shared by all the splits of a dataset: a release's train and valid files share sample
    ids, and a key names one row of the dataset)."""
    seen: set[Path | tuple] = set()
    counts = {} if counts is None else counts
    out = []
    for i, row in enumerate(rows):
        meta = row.get("metadata") if isinstance(row.get("metadata"), dict) else {}
        ids = {side: slug(row[f"{side}_concept"]) for side in SIDES}
        group = str(row.get("sample_id") or f"{ids['pos']}--{ids['neg']}")
        category = str(meta.get("category") or "")
        for side, other in (("pos", "neg"), ("neg", "pos")):
            named = row.get(f"{side}_image_path")
            where = f"{path}: row {i}: field '{side}_image_path'"
            image = _resolve(path, named, images, where) if named else None
            identity = image or (group, side, str(row.get(f"{side}_caption_id", row[f"{side}_caption"])))
            if identity in seen:
                continue
            seen.add(identity)
            stem = f"{slug(group)}-{side}"
            counts[stem] = counts.get(stem, -1) + 1
            out.append(
                Member(
                    image,
                    dataset_row(
                        key=f"{stem}-{counts[stem]:04d}",
                        split=split,
                        concept_id=ids[side],
                        name=row[f"{side}_concept"].strip(),
                        culture=_culture(row, meta, side),
                        category=category,
                        generic=category.lower(),
                        twin_group=group,
                        twin_ids=[ids[other]],
                        caption=row[f"{side}_caption"].strip(),
                        context=str(row.get(f"{side}_context") or ""),
                        features=str(meta.get(f"{side}_features") or ""),
                        release_row=f"{path.name}:{i}",
                    ),
                    where,
                    _seed(group, side, row[f"{side}_caption"]),
                )
            )
    return out


def _culture(row: dict, meta: dict, side: str) -> str:
    """A member's culture (country), where the release gives one: `{side}_country` in the row or its metadata."""
    return str(row.get(f"{side}_country") or meta.get(f"{side}_country") or "").strip()


def _seed(group: str, side: str, caption: str) -> int:
    digest = hashlib.sha256(f"{group}/{side}/{caption.strip()}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def _resolve(path: Path, image: str, images: Path | None, where: str) -> Path:
    """Where an image is: inside the data file's folder, or under `images` by its path's longest existing
    tail (the release's paths may be absolute paths of the authors' machine). A path from a row never
    leads out of that folder (`..`, an absolute path elsewhere, a link out): `--images /` allows any."""
    if "\x00" in image:
        raise DataError(f"{where}: {image!r} is not a file path")
    file = Path(image)
    if images is None:
        candidate = file if file.is_absolute() else path.parent / file
        if ".." in file.parts or not within(path.parent, candidate):
            raise DataError(
                f"{where}: image {image!r} is outside the release's folder {path.parent}; pass --images FOLDER, "
                "the folder that holds the images (--images / allows any path)"
            )
        return candidate
    tails = [file.parts[k:] for k in range(1 if file.is_absolute() else 0, len(file.parts))]
    candidates = [Path(images).joinpath(*tail) for tail in tails if ".." not in tail]
    inside = [c for c in candidates if within(images, c)]
    if not inside:
        raise DataError(f"{where}: image {image!r} is not a path inside --images {images}")
    return next((c for c in inside if c.is_file()), inside[0])


def load(member: Member, max_side: int | None) -> Image.Image:
    try:
        image = decoded(member.image)
    except FileNotFoundError:
        raise DataError(f"{member.where}: no such image {member.image}") from None
    except ImageTooLarge as err:
        raise DataError(f"{member.where}: {member.image} is too large to decode ({err})") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise DataError(f"{member.where}: {member.image} is not a readable image") from None
    return shrunk(image, max_side)


def shrunk(image: Image.Image, max_side: int | None) -> Image.Image:
    if max_side and max(image.size) > max_side:
        image.thumbnail((max_side, max_side), Image.Resampling.BICUBIC)
    return image
