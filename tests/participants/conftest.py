# The permission matrix's `world` fixture (tests/matrix.py).
from tests.matrix import matrix_staff, world  # noqa: F401
