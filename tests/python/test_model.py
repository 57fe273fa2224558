import pickle

import pytest

import funnelkit as fk


def test_b2b_model():
    m = fk.StageModel.b2b()
    assert m.ladder == ["Lead", "MQL", "SAL", "SQL", "Opportunity", "Customer"]
    assert m.owners == ["marketing", "marketing", "sales", "sales", "sales", "sales"]
    assert m.won == "Customer"
    assert m.recycle_target == "Lead"
    assert m.handoffs == [("MQL", "SAL")]
    assert m.code("Disqualified") == 7
    assert len(m) == 8
    assert "Lead (marketing)" in repr(m) and "[won]" in repr(m)


def test_custom_model_and_pickle():
    m = fk.StageModel(
        ["Visitor", ("Signup", "marketing"), fk.Stage("Demo", "sales"), ("Paid", "sales", "won"),
         ("Churned", "sales", "lost")],
        recycle_target="Signup",
    )
    assert m.ladder == ["Visitor", "Signup", "Demo", "Paid"]
    assert m.stages[4] == fk.Stage("Churned", "sales", "lost")
    m2 = pickle.loads(pickle.dumps(m))
    assert m2 == m and hash(m2) == hash(m)


@pytest.mark.parametrize(
    "stages, kwargs, message",
    [
        ([], {}, "the stage list is empty"),
        (["Lead", "MQL", "Lead"], {}, "column 'name', row 2: value 'Lead' repeats the name of stage 0"),
        (["Lead", ""], {}, "column 'name', row 1: value '' is empty"),
        ([("Won", "s", "won"), "After"], {}, "the won stage must be the last ladder stage"),
        (["Lead"], {"recycle_target": "Nurture"}, "option 'recycle_target': value 'Nurture' is not the name"),
        ([("Lead", "m", "closed")], {}, "column 'kind', row 0: value 'closed' is not one of"),
    ],
)
def test_model_errors(stages, kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        fk.StageModel(stages, **kwargs)


def test_model_type_errors():
    with pytest.raises(TypeError):
        fk.StageModel([(1, "m")])
