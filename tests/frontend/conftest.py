import pytest

# show values and IR when a comparison in the shared helper fails
pytest.register_assert_rewrite("fecheck")
