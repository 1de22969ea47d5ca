from tests.store.db_fixtures import *  # noqa: F403
