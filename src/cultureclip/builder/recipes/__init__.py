"""Build recipes by name (`build.recipe`): each supplies its record, checks, plan and steps to the
one driver (`builder.pipeline.build`). A new recipe is one module registered here."""

from cultureclip.registry import Registry

BUILD_RECIPES: Registry = Registry(
    "build recipe",
    {
        "catalog": "cultureclip.builder.recipes.catalog:CatalogRecipe",
        "paper": "cultureclip.builder.recipes.paper:PaperRecipe",
        "bottom_up": "cultureclip.builder.recipes.bottom_up:BottomUpRecipe",
    },
)
"""Recipe classes by name; `BUILD_RECIPES.create(name)` gives a recipe for `pipeline.build`."""
