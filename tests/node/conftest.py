from tests.api.conftest import sample_mp4, seed

__all__ = ["sample_mp4", "seed"]
