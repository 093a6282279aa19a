"""The article's shared library code, as deploy-library.sh builds and copies it."""


def weekly_growth(first: float, last: float, weeks: int) -> float:
    return (last - first) / weeks
