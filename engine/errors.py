"""Typed errors of the core: every refusal names the field it is about."""


class InvalidInput(ValueError):
    """An impossible input (negative price, zero step, weights not summing to 100, ...).

    ``field`` is the dotted path of the offending value, e.g. ``dca_levels[2].weight_percent``.
    """

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
