"""Recipes by name: every job that writes a dataset is a recipe of the one driver (`builder.pipeline.build`),
registered here once. A recipe chosen by `build.recipe` names its config section (`section`, a
`config.build.RecipeSection` that declares the recipe's name); the others take their inputs when created
(`BUILD_RECIPES.create("caption_scores", data, score)`)."""

from cultureclip.registry import Registry

BUILD_RECIPES: Registry = Registry(
    "build recipe",
    {
        "catalog": "cultureclip.builder.recipes.catalog:CatalogRecipe",
        "paper": "cultureclip.builder.recipes.paper:PaperRecipe",
        "bottom_up": "cultureclip.builder.recipes.bottom_up:BottomUpRecipe",
        "cultwin": "cultureclip.builder.recipes.cultwin:CultwinRecipe",
        "fashion_mnist": "cultureclip.builder.recipes.fashion_mnist:FashionMnistRecipe",
        "caption_scores": "cultureclip.builder.recipes.caption_scores:CaptionScoresRecipe",
        "recaption": "cultureclip.builder.recipes.recaption:RecaptionRecipe",
        "caption_variant": "cultureclip.builder.recipes.caption_variant:CaptionVariantRecipe",
    },
)
"""Recipe classes by name; `BUILD_RECIPES.create(name, ...)` gives a recipe for `pipeline.build`."""
