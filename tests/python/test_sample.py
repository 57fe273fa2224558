import numpy as np
import pandas as pd
import pytest

import funnelkit as fk


def test_sample_is_deterministic_and_chunkable():
    a = fk.sample_crm_arrays(3000, seed=5)
    b = fk.sample_crm_arrays(3000, seed=5)
    for k in ("entity", "time", "stage", "source", "campaign", "rep", "reason", "amount"):
        np.testing.assert_array_equal(a[k], b[k])
    p1 = fk.sample_crm_arrays(1200, seed=5)
    p2 = fk.sample_crm_arrays(1800, seed=5, first_lead=1200)
    for k in ("entity", "time", "stage", "amount"):
        np.testing.assert_array_equal(np.concatenate([p1[k], p2[k]]), a[k])
    c = fk.sample_crm_arrays(3000, seed=6)
    assert not np.array_equal(a["time"][:100], c["time"][:100])


def test_sample_frame_labels(sample_df):
    df = sample_df
    assert list(df.columns) == ["entity", "time", "stage", "source", "campaign", "rep", "reason", "amount"]
    assert df["time"].dtype == "datetime64[s]"
    assert set(df["stage"].cat.categories) == set(fk.sample_model().names)
    assert df["entity"].nunique() == 5000
    assert (df["time"] < pd.Timestamp(df.attrs["end"])).all()
    assert df["time"].min() >= pd.Timestamp("2024-01-01")
    deal = df["stage"].isin(["Opportunity", "Customer", "Lost"])
    assert (df.loc[deal, "amount"] > 0).all() and (df.loc[~deal, "amount"] == 0).all()
    assert df.loc[df["stage"] == "Disqualified", "reason"].notna().all()
    labels = fk.sample_labels()
    # Every campaign belongs to its row's source.
    camp_src = np.array(labels["campaign_source"])
    codes = fk.sample_crm_arrays(5000, seed=42)
    np.testing.assert_array_equal(camp_src[codes["campaign"]], codes["source"])


def test_sample_options():
    a = fk.sample_crm_arrays(100, start="2025-03-01", days=30)
    start = int(pd.Timestamp("2025-03-01", tz="UTC").timestamp())
    assert a["time"].min() >= start and a["end"] == start + 30 * 86400
    with pytest.raises(ValueError, match="option 'leads'"):
        fk.sample_crm_arrays(-1)
    with pytest.raises(ValueError, match="option 'reps'"):
        fk.sample_crm_arrays(10, reps=0)
    with pytest.raises(TypeError, match="option 'leads'"):
        fk.sample_crm_arrays(10.5)
    with pytest.raises(ValueError, match="option 'seed'"):
        fk.sample_crm_arrays(10, seed=-1)


def test_sample_touches_match_the_crm_sample():
    touches, outcomes = fk.sample_touches(2000, seed=9)
    crm = fk.sample_crm(2000, seed=9)
    assert len(outcomes) == 2000 and outcomes["path"].is_unique
    won = crm.loc[crm["stage"] == "Customer"].set_index("entity")["amount"]
    conv = outcomes.set_index("path")
    assert conv["converted"].sum() == len(won)
    assert (conv.loc[won.index, "value"] == won).all()
    # One lead-creation touch per lead, at the lead's first record, in its source's channel.
    created = touches[touches["milestone"] == "lead_created"].set_index("path")
    first = crm.groupby("entity").first()
    assert len(created) == 2000
    assert (created["time"] == first.loc[created.index, "time"]).all()
    assert (created["channel"].astype(str) == first.loc[created.index, "source"].astype(str)).all()
    again, _ = fk.sample_touches(2000, seed=9)
    assert touches.equals(again)
    assert set(touches["channel"].cat.categories) == set(fk.sample_labels()["channel"])
