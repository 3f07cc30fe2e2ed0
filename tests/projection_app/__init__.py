"""A Django app for the projection tests: read models and the projections that fill them."""

REGISTERED = [
    "tests.projection_app.projections.AllEvents",
    "tests.projection_app.projections.CartEvents",
    "tests.projection_app.projections.Removals",
    "tests.projection_app.projections.ItemCounts",
]
"""The test projections, as ``EVENTHEX_PROJECTIONS`` lists them."""
