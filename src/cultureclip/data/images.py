"""Images from data decoded within bounds: the header's size is checked before any pixel is decoded, so a
decompression bomb (a small file that decodes to gigabytes) is refused, not decoded."""

from PIL import Image

MAX_PIXELS = 89_478_485
"""The most pixels an image from data may have (Pillow's own warning threshold: 0.25 GiB as RGB)."""


class ImageTooLarge(ValueError):
    """An image whose header declares more than MAX_PIXELS pixels (or that Pillow itself refuses as a bomb)."""


def decoded(source) -> Image.Image:
    """The RGB image of a file (a path or a binary file object), decoded only when its header declares at
    most MAX_PIXELS pixels; ImageTooLarge otherwise. Other failures are Pillow's (OSError and its kin)."""
    try:
        with Image.open(source) as im:
            if im.width * im.height > MAX_PIXELS:
                raise ImageTooLarge(f"{im.width}x{im.height} pixels, over the {MAX_PIXELS:,} an image may have")
            return im.convert("RGB")
    except Image.DecompressionBombError as err:
        raise ImageTooLarge(str(err).split(" could be")[0]) from None
