"""The torch-free CLIP BPE counter against open_clip's own tokenizer."""

from open_clip.tokenizer import SimpleTokenizer

from cultureclip.backends.clip.tokenizer import CLIP_CONTEXT, clip_bpe
from cultureclip.catalog.load import load_catalog
from cultureclip.catalog.schema import CAPTION_FIELDS

TRICKY = [
    "Áo dài, a garment — “quoted” text's fine!",
    "naïve café 123,456 &amp; <b>x</b>",
    "  spaced\tout\n\nlines  ",
    "",
    "日本の餃子 and 饺子",
]


def test_counts_equal_open_clip_on_every_caption_field_of_the_shipped_catalogue():
    reference = SimpleTokenizer()
    texts = [getattr(c, f) for c in load_catalog().concepts for f in CAPTION_FIELDS if getattr(c, f)]
    texts += TRICKY
    assert len(texts) > 1000
    ours = [clip_bpe().count(t) for t in texts]
    theirs = [len(reference.encode(t)) + 2 for t in texts]
    assert ours == theirs
    assert clip_bpe().count("a photo of gyoza") == 8 and clip_bpe().context_length == CLIP_CONTEXT == 77
