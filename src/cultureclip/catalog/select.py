"""Which concepts a dataset is built from: the catalogue of the config, narrowed to its twin groups.

The offline world (the default run) uses the 27 twin groups of the first catalogue, in their
original order, so its measured figures stay the same as the shipped catalogue grows.
"""

from cultureclip.catalog.load import Catalog, load_catalog
from cultureclip.config import CatalogConfig, CatalogRecipeConfig

WORLD_GROUPS = (
    "dumpling",
    "flatbread",
    "noodle-soup",
    "triangle-pastry",
    "traditional-robe",
    "conical-hat",
    "pointed-shoe",
    "formal-shirt",
    "pagoda",
    "ceremonial-gate",
    "domed-mosque",
    "stupa",
    "yurt",
    "pear-lute",
    "two-string-fiddle",
    "long-zither",
    "hand-drum",
    "bamboo-flute",
    "blue-white-ceramic",
    "woven-rug",
    "paper-cutting",
    "carved-mask",
    "folding-fan",
    "kite",
    "festival-lantern",
    "festival-lamp",
    "boat-race",
)


def dataset_catalog(source: CatalogConfig, cfg: CatalogRecipeConfig) -> Catalog:
    """The concepts a dataset uses: `cfg.groups` of the configured catalogue, then `cfg.max_groups` of them."""
    catalog = load_catalog(source.path, source.mode, categories=source.categories)
    if cfg.groups is None:
        shipped = source.path is None or source.mode == "extend"
        catalog = catalog.select_groups(WORLD_GROUPS if shipped else list(catalog.groups))
    else:
        catalog = catalog.select_groups(list(catalog.groups) if cfg.groups == "all" else cfg.groups)
    return catalog.first_groups(cfg.max_groups) if cfg.max_groups else catalog
