import pytest

# show the IR texts when a comparison in the shared helper fails
pytest.register_assert_rewrite("ircheck")
