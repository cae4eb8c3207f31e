"""The one exception a comparison raises for a step it cannot go on from."""


class BenchError(Exception):
    pass
