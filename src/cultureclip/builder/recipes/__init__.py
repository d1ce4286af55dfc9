"""Recipes by name: every job that writes a dataset is a recipe of the one driver (`builder.pipeline.build`),
registered once. A recipe chosen by `build.recipe` is registered by its config section (a
`config.build.RecipeSection` declaring the recipe's name and class; the recipe reads it as `section`); the
others are registered here and take their inputs when created (`BUILD_RECIPES.create("caption_scores", data,
score)`)."""

from cultureclip.config.build import RECIPE_SECTIONS
from cultureclip.registry import Registry

BUILD_RECIPES: Registry = Registry(
    "build recipe",
    {
        **{name: section.builds for name, section in RECIPE_SECTIONS.items()},
        "cultwin": "cultureclip.builder.recipes.cultwin:CultwinRecipe",
        "fashion_mnist": "cultureclip.builder.recipes.fashion_mnist:FashionMnistRecipe",
        "caption_scores": "cultureclip.builder.recipes.caption_scores:CaptionScoresRecipe",
        "recaption": "cultureclip.builder.recipes.recaption:RecaptionRecipe",
        "caption_variant": "cultureclip.builder.recipes.caption_variant:CaptionVariantRecipe",
    },
)
"""Recipe classes by name; `BUILD_RECIPES.create(name, ...)` gives a recipe for `pipeline.build`."""
