# The permission matrix's `world` fixture (tests/matrix.py).
from tests.matrix import world  # noqa: F401
