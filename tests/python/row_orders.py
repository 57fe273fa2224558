"""The three row orders the per-entity kernels are checked under (shuffled, event-log time
order, sorted by entity and time) and the thread counts, for the order-and-threads tests."""

import pandas as pd

THREADS = (1, 2, 3)


def three_orders(df: pd.DataFrame, entity: str = "entity", time: str = "time", seed: int = 5) -> dict:
    """The rows shuffled, in time order and sorted by (entity, time)."""
    shuffled = df.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    by_time = shuffled.sort_values(time, kind="stable").reset_index(drop=True)
    by_entity = shuffled.sort_values([entity, time], kind="stable").reset_index(drop=True)
    return {"shuffled": shuffled, "time": by_time, "entity_time": by_entity}
